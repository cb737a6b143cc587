"""What a kind of check declares: its probe, the pytest marker of its tests, and what it runs
against in a profile. The registry (netcheck.checks.KINDS) is the only list of kinds."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from netcheck.net import Network
from netcheck.profile import DnsName, Domain, Endpoint, Profile
from netcheck.result import Trace

Target = Endpoint | DnsName | Domain
# Speaks the protocol (a coroutine); raises Failure or Skip, returns a one-line summary.
Probe = Callable[[Any, Network, Trace], Awaitable[str]]


@dataclass(frozen=True)
class Kind:
    name: str  # the fixture a test asks for, and `check` in results
    marker: str  # the marker of its tests (`pytest -m crl`)
    probe: Probe
    # The targets of a run, in profile order; the family is a RUN_FAMILIES value or None.
    plan: Callable[[Profile, str | None], list[Any]]
    # Why a profile gives this kind nothing to check (shown as the skip reason).
    none_reason: Callable[[Profile], str] = lambda p: f"the profile {p.path} has no target"


def endpoints(check: str, *, split: bool = False) -> Callable[[Profile, str | None], list[Any]]:
    """The plan of a URL check: the profile's endpoints listing `check`.

    Family None tests dual-stack ("any") endpoints as they come (IPv4 first); "ipv4" or
    "ipv6" restricts every check to that family; "both" runs a `split` check (firewall) of a
    dual-stack endpoint once per family, `<id>` over IPv4 and `<id>-ipv6`.
    """

    def plan(profile: Profile, family: str | None) -> list[Endpoint]:
        out: list[Endpoint] = []
        for e in profile.endpoints:
            if check not in e.checks:
                continue
            if e.family != "any":
                out += [e] if family in (None, "both", e.family) else []
            elif family in ("ipv4", "ipv6"):
                out.append(e.over(family))
            elif family == "both" and split:
                out += [e.over("ipv4"), e.over("ipv6")]
            else:
                out.append(e)
        return out

    return plan
