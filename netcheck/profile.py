"""Profiles (`endpoints.toml`): load, validate, and turn into typed, immutable objects.

Every problem is one ProfileError whose message names the file, the entry and the key.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from cryptography import x509

from netcheck.url import Url, hostname, is_ip, redact

CHECKS = ("firewall", "tls", "crl")
FAMILIES = ("any", "ipv4", "ipv6")
RUN_FAMILIES = ("ipv4", "ipv6", "both")  # --family
TENANTS = ("worldwide", "21vianet")
INTERCEPTION = ("fail", "warn")
PIN_PREFIX = "sha256//"  # an SPKI pin as curl's --pinnedpubkey writes it
PUBLIC_ROOTS = "public"  # an expected root: any root of the public web PKI (certifi's bundle)


class ProfileError(Exception):
    """A profile that cannot be used; the message is one line naming file, entry and key."""


@dataclass(frozen=True)
class TlsPolicy:
    """Which trust anchors an HTTPS endpoint's chain must end at, and what a miss means.

    `expected_roots` holds RFC 4514 subject names, `sha256//<base64>` SPKI pins and "public"
    (any root of certifi's bundle); empty turns the interception check off. `interception`:
    "fail" or "warn".
    """

    expected_roots: tuple[str, ...] = ()
    interception: str = "fail"


@dataclass(frozen=True)
class Endpoint:
    """A URL to reach: the firewall/TLS/CRL checks, or an NCSI web probe (expect_body set)."""

    id: str
    url: str
    category: str = "general"
    required: bool = True
    notes: str = ""
    checks: tuple[str, ...] = ("firewall",)
    family: str = "any"
    expect_body: str | None = None
    service_area: str = ""
    pattern: str = ""  # the published wildcard host (`*.office.com`) `url` stands for
    skip: str = ""  # why the entry is listed but not probed (a wildcard with no probe_host)
    tls: TlsPolicy = field(default_factory=TlsPolicy)
    split: bool = False  # a one-family variant of a dual-stack ("any") endpoint

    def over(self, family: str) -> Endpoint:
        """This endpoint tested over one address family (`<id>-ipv6` for IPv6)."""
        base = self.id.removesuffix("-ipv6") if self.split else self.id
        return replace(
            self, family=family, id=base + ("-ipv6" if family == "ipv6" else ""), split=True
        )

    @cached_property
    def location(self) -> Url:
        """The URL, parsed (it was normalised when the profile was loaded)."""
        return Url.parse(self.url, wildcard=True)

    @property
    def scheme(self) -> str:
        return self.location.scheme

    @property
    def host(self) -> str:
        return self.location.host

    @property
    def port(self) -> int:
        return self.location.port

    @property
    def path(self) -> str:
        return self.location.target


@dataclass(frozen=True)
class DnsName:
    """A name that must resolve to exactly the expected addresses (the NCSI DNS probe)."""

    id: str
    name: str
    expect_a: tuple[str, ...] = ()
    expect_aaaa: tuple[str, ...] = ()
    category: str = "ncsi"
    required: bool = True
    notes: str = ""


@dataclass(frozen=True)
class MsoidRule:
    """msoid.<domain> must be absent or point at `worldwide`; `vianet` only for 21Vianet tenants."""

    worldwide: str
    vianet: str
    tenant: str = "worldwide"
    domains: tuple[str, ...] = ()


@dataclass(frozen=True)
class Domain:
    """A custom domain whose MSOID record is checked against a rule."""

    name: str
    rule: MsoidRule
    required: bool = True

    @property
    def id(self) -> str:
        return self.name


@dataclass(frozen=True)
class Profile:
    name: str
    path: Path
    description: str = ""
    endpoints: tuple[Endpoint, ...] = ()
    dns_names: tuple[DnsName, ...] = ()
    msoid: MsoidRule | None = None


# --- validators: each returns the clean value or raises ValueError with a short reason ---


def _printable(text: str) -> str:
    """Control characters escaped: a message stays on one line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def http_url(value: str, *, wildcard: bool = False) -> str:
    """The URL in its normal form (see netcheck.url), naming a host, not an address."""
    url = Url.parse(value, wildcard=wildcard)
    if is_ip(url.host):
        raise ValueError(f"{value!r}: {url.host} is an IP address; a host name is required")
    return str(url)


def _wildcard_url(value: str) -> str:
    return http_url(value, wildcard=True)


def _address(version: int) -> Callable[[str], str]:
    def check(value: str) -> str:
        try:
            addr = ipaddress.ip_address(value)
        except ValueError:
            raise ValueError(f"{value!r} is not an IPv{version} address") from None
        if addr.version != version:
            raise ValueError(f"{value!r} is not an IPv{version} address")
        return str(addr)

    return check


def trust_anchor(value: str) -> str:
    """An expected root: an SPKI pin `sha256//<base64>`, an RFC 4514 subject name or "public"."""
    if value == PUBLIC_ROOTS:
        return value
    if value.startswith(PIN_PREFIX):
        try:
            digest = base64.b64decode(value.removeprefix(PIN_PREFIX), validate=True)
        except binascii.Error:
            digest = b""
        if len(digest) != 32:
            raise ValueError(f"{value!r} is not a SHA-256 pin ({PIN_PREFIX}<44 base64 chars>)")
        return value
    try:
        name = x509.Name.from_rfc4514_string(value)
    except ValueError:
        name = None
    if not name or not value.strip():
        raise ValueError(
            f"{value!r} is neither a subject name (e.g. 'CN=Root,O=Org,C=US') "
            f"nor an SPKI pin ({PIN_PREFIX}<base64>) nor {PUBLIC_ROOTS!r}"
        )
    return value


def _one_of(choices: tuple[str, ...]) -> Callable[[str], str]:
    def check(value: str) -> str:
        if value not in choices:
            raise ValueError(f"{value!r} is not one of {', '.join(choices)}")
        return value

    return check


# --- schema: key -> (type, validator applied to the value or to each item of a list) ---

Field = tuple[type, Callable[[Any], Any] | None]
_COMMON: dict[str, Field] = {
    "id": (str, None),
    "category": (str, None),
    "required": (bool, None),
    "notes": (str, None),
}
_SCHEMA: dict[str, tuple[dict[str, Field], set[str]]] = {
    "profile": ({"name": (str, None), "description": (str, None)}, {"name"}),
    "endpoint": (
        {
            **_COMMON,
            "url": (str, _wildcard_url),
            "checks": (list, _one_of(CHECKS)),
            "family": (str, _one_of(FAMILIES)),
            "service_area": (str, None),
            "probe_host": (str, hostname),
            "skip": (str, None),
            "expected_roots": (list, trust_anchor),
            "interception": (str, _one_of(INTERCEPTION)),
        },
        {"url"},
    ),
    "tls": (
        {"expected_roots": (list, trust_anchor), "interception": (str, _one_of(INTERCEPTION))},
        set(),
    ),
    "ncsi_web": (
        {
            **_COMMON,
            "url": (str, http_url),
            "expect_body": (str, None),
            "family": (str, _one_of(FAMILIES)),
        },
        {"url", "expect_body"},
    ),
    "ncsi_dns": (
        {
            **_COMMON,
            "name": (str, hostname),
            "expect_a": (list, _address(4)),
            "expect_aaaa": (list, _address(6)),
        },
        {"name"},
    ),
    "msoid": (
        {
            "worldwide": (str, hostname),
            "vianet": (str, hostname),
            "tenant": (str, _one_of(TENANTS)),
            "domains": (list, hostname),
        },
        {"worldwide", "vianet"},
    ),
}


def _fields(table: object, kind: str, where: str) -> dict[str, Any]:
    """Check one table against the schema: no unknown keys, right types, valid values."""
    if not isinstance(table, Mapping):
        raise ProfileError(f"{where}: must be a table, not {type(table).__name__}")
    spec, required = _SCHEMA[kind]
    for key in table:
        if key not in spec:
            raise ProfileError(f"{where}: unknown key {key!r} (allowed: {', '.join(spec)})")
    if missing := sorted(required - set(table)):
        raise ProfileError(f"{where}: key {missing[0]!r} is missing")
    clean: dict[str, Any] = {}
    for key, value in table.items():
        kind_, validate = spec[key]
        if not isinstance(value, kind_):
            raise ProfileError(
                f"{where}: key {key!r} must be a {_TYPE_NAMES[kind_]}, not {_type_name(value)}"
            )
        try:
            if kind_ is list:
                items = [_item(v, validate) for v in value]
                clean[key] = tuple(dict.fromkeys(items))
            elif validate:
                clean[key] = validate(value)
            else:
                clean[key] = value
        except ValueError as exc:
            raise ProfileError(f"{where}: key {key!r}: {exc}") from None
    return clean


def _item(value: Any, validate: Callable[[Any], Any] | None) -> Any:
    if not isinstance(value, str):
        raise ValueError(f"items must be strings, not {_type_name(value)}")
    return validate(value) if validate else value


_TYPE_NAMES = {str: "string", bool: "boolean (true/false)", list: "list"}


def _type_name(value: object) -> str:
    return {
        str: "string",
        bool: "boolean",
        int: "integer",
        float: "number",
        list: "list",
        dict: "table",
    }.get(type(value), type(value).__name__)


def _default_id(url: str) -> str:
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    return f"{parts.hostname}{path}"


def _concrete(entry: dict[str, Any], label: str) -> dict[str, Any]:
    """A wildcard URL is probed at its `probe_host`; without one it is listed but skipped."""
    parts = urlsplit(entry["url"])
    host, probe_host = parts.hostname or "", entry.pop("probe_host", None)
    if "*" not in host:
        if probe_host:
            raise ProfileError(f"{label}: key 'probe_host': only for wildcard URLs (*.domain)")
        return entry
    entry["pattern"] = host
    if not probe_host:
        entry.setdefault(
            "skip", f'wildcard {host}: no concrete host to probe; add probe_host = "<a host>"'
        )
        return entry
    if "*" in probe_host or not fnmatchcase(probe_host, host):
        raise ProfileError(f"{label}: key 'probe_host': {probe_host!r} does not match {host!r}")
    netloc = probe_host + (f":{parts.port}" if parts.port else "")
    entry["url"] = urlunsplit(parts._replace(netloc=netloc))
    return entry


def _m365(text: str, where: str) -> dict[str, Any]:
    """A .json profile is the Microsoft 365 endpoints web service's list, converted."""
    from netcheck import m365

    try:
        return m365.from_json(text, source=Path(where).name)[0]
    except m365.M365Error as exc:
        raise ProfileError(f"{where}: {exc}") from None


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
    HTTPS endpoint's expected roots.
    """
    path = Path(path)
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8")
        data = _m365(text, where) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except FileNotFoundError:
        raise ProfileError(f"{where}: no such file") from None
    except IsADirectoryError:
        raise ProfileError(f"{where}: is a directory, not a profile file") from None
    except UnicodeDecodeError as exc:
        raise ProfileError(f"{where}: not UTF-8 text (byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{where}: TOML syntax error: {exc}") from None
    except OSError as exc:
        raise ProfileError(f"{where}: cannot read: {exc.strerror}") from None

    for key in data:
        if key not in _SCHEMA:
            raise ProfileError(f"{where}: unknown table [{key}] (allowed: {', '.join(_SCHEMA)})")
    if "profile" not in data:
        raise ProfileError(f"{where}: the [profile] table with a name is missing")
    head = _fields(data["profile"], "profile", f"{where}: [profile]")

    seen: dict[str, str] = {}

    def entries(kind: str) -> list[tuple[str, dict[str, Any]]]:
        tables = data.get(kind, [])
        if not isinstance(tables, list):
            raise ProfileError(f"{where}: {kind} must be an array of tables ([[{kind}]])")
        out = []
        for i, table in enumerate(tables):
            label = f"{where}: {kind}[{i}]"
            if isinstance(table, Mapping) and isinstance(table.get("url"), str):
                label += f" ({_printable(redact(table['url']))})"
            clean = _fields(table, kind, label)
            ident = clean.get("id") or clean.get("name") or _default_id(clean["url"])
            if ident in seen:
                raise ProfileError(
                    f"{label}: key 'id': duplicate id {ident!r} (also {seen[ident]})"
                )
            seen[ident] = f"{kind}[{i}]"
            clean["id"] = ident
            out.append((label, clean))
        return out

    tls = _fields(data.get("tls", {}), "tls", f"{where}: [tls]")

    def tls_policy(e: dict[str, Any]) -> TlsPolicy:
        roots = e.pop("expected_roots", None) or tls.get("expected_roots", ())
        mode = e.pop("interception", None) or tls.get("interception", "fail")
        return TlsPolicy(tuple(dict.fromkeys((*roots, *expected_roots))), interception or mode)

    endpoints = []
    for label, e in entries("endpoint"):
        https = e["url"].startswith("https:")
        checks = e.pop("checks", None) or (("firewall", "tls") if https else ("firewall",))
        if "tls" in checks and not https:
            raise ProfileError(f"{label}: key 'checks': 'tls' needs an https:// URL")
        if not https and ("expected_roots" in e or "interception" in e):
            raise ProfileError(
                f"{label}: keys 'expected_roots'/'interception' need an https:// URL"
            )
        endpoints.append(Endpoint(checks=checks, tls=tls_policy(e), **_concrete(e, label)))
    ncsi_web = []
    for label, e in entries("ncsi_web"):
        if not e["url"].startswith("http:"):
            raise ProfileError(f"{label}: key 'url': NCSI probes are plain http://")
        ncsi_web.append(Endpoint(checks=("ncsi_web",), **{"category": "ncsi", **e}))
    dns_names = [DnsName(**e) for _, e in entries("ncsi_dns")]

    msoid = None
    if domains and "msoid" not in data:
        raise ProfileError(f"{where}: --domain was given but the profile has no [msoid] rule")
    if "msoid" in data:
        rule = _fields(data["msoid"], "msoid", f"{where}: [msoid]")
        if tenant is not None:
            rule["tenant"] = tenant
        rule["domains"] = tuple(dict.fromkeys(rule.get("domains", ()) + domains))
        msoid = MsoidRule(**rule)
    return Profile(
        name=head["name"],
        description=head.get("description", ""),
        path=path,
        endpoints=(*endpoints, *ncsi_web),
        dns_names=tuple(dns_names),
        msoid=msoid,
    )
