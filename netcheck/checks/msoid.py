"""The MSOID CNAME of a custom domain: a 21Vianet target breaks activation for worldwide
tenants ("custom domain isn't in our system"), and the reverse for 21Vianet tenants."""

from __future__ import annotations

import dns.resolver

from netcheck import failures as f
from netcheck.checks.kind import Kind
from netcheck.failures import Failure, Layer
from netcheck.net import Network
from netcheck.profile import Domain, Profile
from netcheck.result import Phase, Trace


async def probe(domain: Domain, network: Network, trace: Trace) -> str:
    rule, name = domain.rule, f"msoid.{domain.name}"
    trace.note(record=name, tenant=rule.tenant)
    with trace.phase(Phase.RESOLVE, Layer.DNS):
        try:
            targets = await network.lookup(name, "CNAME", trace)
        except dns.resolver.NXDOMAIN:
            targets = []
    target = targets[0].rstrip(".").lower() if targets else None
    trace.note(cname=target or "none")
    vianet_tenant = rule.tenant == "21vianet"
    if target is None:
        if vianet_tenant:
            raise Failure(
                Layer.DNS,
                f.MSOID_MISSING,
                f"{name} has no CNAME; a 21Vianet tenant needs one to {rule.vianet}",
            )
        return f"{name} does not exist (as expected)"
    if target == (rule.vianet if vianet_tenant else rule.worldwide):
        return f"{name} is a CNAME to {target} (as expected for a {rule.tenant} tenant)"
    if target == rule.vianet:
        raise Failure(
            Layer.DNS,
            f.MSOID_21VIANET,
            f"{name} is a CNAME to {target}, which is only for tenants operated by 21Vianet",
        )
    raise Failure(
        Layer.DNS,
        f.MSOID_UNEXPECTED,
        f"{name} is a CNAME to {target}; expected "
        f"{rule.vianet if vianet_tenant else rule.worldwide + ' or no record'}",
    )


def plan(profile: Profile, family: str | None) -> list[Domain]:
    rule = profile.msoid
    return [Domain(d, rule) for d in rule.domains] if rule else []


KIND = Kind(
    "msoid",
    "dns",
    probe,
    plan,
    lambda profile: (
        "no custom domain given: add --domain=contoso.com (repeatable) or list "
        "domains in the profile's [msoid] table"
    ),
)
