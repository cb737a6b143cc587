"""What a profile is made of: typed, immutable objects the checks use."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

from netcheck.textfile import InputError
from netcheck.url import Url

CHECKS = ("firewall", "tls", "crl")
FAMILIES = ("any", "ipv4", "ipv6")
RUN_FAMILIES = ("ipv4", "ipv6", "both")  # --family
TENANTS = ("worldwide", "21vianet")
INTERCEPTION = ("fail", "warn")
PIN_PREFIX = "sha256//"  # an SPKI pin as curl's --pinnedpubkey writes it
PUBLIC_ROOTS = "public"  # an expected root: any root of the public web PKI (certifi's bundle)


class ProfileError(InputError):
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
