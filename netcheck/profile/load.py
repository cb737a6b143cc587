"""Reading a profile: the file's text, parsed and validated (netcheck.profile.schema), then
turned into the objects of netcheck.profile.model with the command line's additions."""

from __future__ import annotations

from dataclasses import replace
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from netcheck import m365
from netcheck.document import Invalid, Syntax, convert, parse
from netcheck.profile.model import (
    DnsName,
    Endpoint,
    MsoidRule,
    Profile,
    ProfileError,
    TlsPolicy,
)
from netcheck.profile.schema import ARRAYS, EndpointTable, ProfileFile
from netcheck.textfile import InputError, read_text
from netcheck.url import Url, redact


def load(
    path: str | Path,
    *,
    domains: tuple[str, ...] = (),
    tenant: str | None = None,
    interception: str | None = None,
    expected_roots: tuple[str, ...] = (),
) -> Profile:
    """Read and validate a profile; the keyword arguments come from the command line.

    `interception` overrides every endpoint's choice; `expected_roots` are added to every
    HTTPS endpoint's expected roots. A `.json` file is the Microsoft 365 endpoints list.
    """
    path = Path(path)
    data: Any = None
    try:
        text = read_text(path)
        if path.suffix.lower() == ".json":
            data = m365.from_json(text, source=path.name)[0]
        else:
            data = parse(text, "TOML")
        doc = convert(data, ProfileFile)
        profile = _profile(doc, path, expected_roots, interception)
        return replace(profile, msoid=_msoid(doc, domains, tenant))
    except Invalid as exc:
        raise ProfileError(f"{path}: {_explain(exc, data)}") from None
    except (Syntax, m365.M365Error) as exc:
        raise ProfileError(f"{path}: {exc}") from None
    except InputError as exc:  # read_text's message names the file
        raise ProfileError(str(exc)) from None


def _explain(exc: Invalid, data: Any) -> str:
    """One line naming the entry and the key: `endpoint[0] (https://a/): key 'x' ...`."""
    if not exc.path:
        if exc.unknown is not None:
            return f"unknown table [{exc.unknown}] (allowed: {', '.join(exc.allowed())})"
        if exc.missing == "profile":
            return "the [profile] table with a name is missing"
        return exc.describe(0)
    kind = exc.path[0]
    if kind not in ARRAYS:
        return f"[{kind}]: {exc.describe(1)}"
    if len(exc.path) == 1 or not isinstance(data[kind], list):
        return f"{kind} must be an array of tables ([[{kind}]])"
    index = exc.path[1]
    label = f"{kind}[{index}]"
    table = data[kind][index]
    if isinstance(table, dict) and isinstance(table.get("url"), str):
        label += f" ({redact(table['url'])})"
    return f"{label}: {exc.describe(2)}"


def _profile(
    doc: ProfileFile, path: Path, expected_roots: tuple[str, ...], interception: str | None
) -> Profile:
    seen: dict[str, str] = {}

    def ident(kind: str, i: int, given: str, default: str) -> str:
        """An entry's test id: unique across the profile."""
        ident = given or default
        if ident in seen:
            raise Invalid((kind, i, "id"), f"duplicate id {ident!r} (also {seen[ident]})")
        seen[ident] = f"{kind}[{i}]"
        return ident

    def tls_policy(e: EndpointTable) -> TlsPolicy:
        roots = e.expected_roots or doc.tls.expected_roots
        mode = interception or e.interception or doc.tls.interception
        return TlsPolicy(tuple(dict.fromkeys((*roots, *expected_roots))), mode)

    endpoints = []
    for i, e in enumerate(doc.endpoint):
        https = e.url.startswith("https:")
        default = ("firewall", "tls") if https else ("firewall",)
        checks = tuple(dict.fromkeys(e.checks or default))
        if "tls" in checks and not https:
            raise Invalid(("endpoint", i, "checks"), "'tls' needs an https:// URL")
        if not https and (e.expected_roots is not None or e.interception is not None):
            raise Invalid(
                ("endpoint", i), "keys 'expected_roots'/'interception' need an https:// URL"
            )
        url, pattern, skip = _concrete(e, i)
        endpoints.append(
            Endpoint(
                id=ident("endpoint", i, e.id, _default_id(e.url)),
                url=url,
                category=e.category or "general",
                required=e.required,
                notes=e.notes,
                checks=checks,
                family=e.family,
                service_area=e.service_area,
                pattern=pattern,
                skip=skip,
                tls=tls_policy(e),
            )
        )
    for i, w in enumerate(doc.ncsi_web):
        if not w.url.startswith("http:"):
            raise Invalid(("ncsi_web", i, "url"), "NCSI probes are plain http://")
        endpoints.append(
            Endpoint(
                id=ident("ncsi_web", i, w.id, _default_id(w.url)),
                url=w.url,
                category=w.category or "ncsi",
                required=w.required,
                notes=w.notes,
                checks=("ncsi_web",),
                family=w.family,
                expect_body=w.expect_body,
            )
        )
    dns_names = tuple(
        DnsName(
            id=ident("ncsi_dns", i, d.id, d.name),
            name=d.name,
            expect_a=tuple(dict.fromkeys(d.expect_a)),
            expect_aaaa=tuple(dict.fromkeys(d.expect_aaaa)),
            category=d.category or "ncsi",
            required=d.required,
            notes=d.notes,
        )
        for i, d in enumerate(doc.ncsi_dns)
    )
    head = doc.profile
    return Profile(head.name, path, head.description, tuple(endpoints), dns_names)


def _msoid(doc: ProfileFile, domains: tuple[str, ...], tenant: str | None) -> MsoidRule | None:
    if doc.msoid is None:
        if domains:
            raise Invalid((), "--domain was given but the profile has no [msoid] rule")
        return None
    rule = doc.msoid
    return MsoidRule(
        rule.worldwide,
        rule.vianet,
        tenant or rule.tenant,
        tuple(dict.fromkeys((*rule.domains, *domains))),
    )


def _default_id(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}{parts.path.rstrip('/')}"


def _concrete(e: EndpointTable, i: int) -> tuple[str, str, str]:
    """(url, pattern, skip): a wildcard URL is probed at its `probe_host`; without one it is
    listed but skipped."""
    location = Url.parse(e.url, wildcard=True)
    if "*" not in location.host:
        if e.probe_host:
            raise Invalid(("endpoint", i, "probe_host"), "only for wildcard URLs (*.domain)")
        return e.url, "", e.skip
    pattern = location.host
    if not e.probe_host:
        reason = f'wildcard {pattern}: no concrete host to probe; add probe_host = "<a host>"'
        return e.url, pattern, e.skip or reason
    if not fnmatchcase(e.probe_host, pattern):
        raise Invalid(("endpoint", i, "probe_host"), f"{e.probe_host!r} does not match {pattern!r}")
    return str(replace(location, host=e.probe_host)), pattern, e.skip
