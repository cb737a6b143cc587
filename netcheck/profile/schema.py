"""A profile's tables as the file holds them: keys, types and what each value may be.

Each validator returns the value's normal form or raises ValueError with a short reason;
`checked(validator)` declares a string field that goes through it (netcheck.document).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from collections.abc import Callable

import msgspec
from cryptography import x509

from netcheck.document import Table, checked, one_of
from netcheck.profile.model import (
    CHECKS,
    FAMILIES,
    INTERCEPTION,
    PIN_PREFIX,
    PUBLIC_ROOTS,
    TENANTS,
)
from netcheck.url import Url, hostname, is_ip


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
            addr = None
        if addr is None or addr.version != version:
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


def _test_id(value: str) -> str:
    """An id becomes a test id: printable, on one line."""
    if not value.isprintable():
        raise ValueError(f"{value!r} holds control characters")
    return value


Id = checked(_test_id)
Host = checked(hostname)
WildcardUrl = checked(_wildcard_url)
HttpUrl = checked(http_url)
Check = checked(one_of(CHECKS))
Anchor = checked(trust_anchor)
Family = checked(one_of(FAMILIES))
Interception = checked(one_of(INTERCEPTION))
Tenant = checked(one_of(TENANTS))
IPv4 = checked(_address(4))
IPv6 = checked(_address(6))


class Head(Table):
    name: str
    description: str = ""


class Entry(Table):
    """The keys every kind of entry has (category: each kind has its default)."""

    id: Id = ""
    category: str | None = None
    required: bool = True
    notes: str = ""


class EndpointTable(Entry, kw_only=True):
    url: WildcardUrl
    checks: tuple[Check, ...] | None = None  # default: firewall, tls for https
    family: Family = "any"
    service_area: str = ""
    probe_host: Host | None = None
    skip: str = ""
    expected_roots: tuple[Anchor, ...] | None = None  # default: [tls]'s
    interception: Interception | None = None


class TlsTable(Table):
    expected_roots: tuple[Anchor, ...] = ()
    interception: Interception = "fail"


class NcsiWebTable(Entry, kw_only=True):
    url: HttpUrl
    expect_body: str
    family: Family = "any"


class NcsiDnsTable(Entry, kw_only=True):
    name: Host
    expect_a: tuple[IPv4, ...] = ()
    expect_aaaa: tuple[IPv6, ...] = ()


class MsoidTable(Table):
    worldwide: Host
    vianet: Host
    tenant: Tenant = "worldwide"
    domains: tuple[Host, ...] = ()


class ProfileFile(Table):
    profile: Head
    endpoint: tuple[EndpointTable, ...] = ()
    tls: TlsTable = msgspec.field(default_factory=TlsTable)
    ncsi_web: tuple[NcsiWebTable, ...] = ()
    ncsi_dns: tuple[NcsiDnsTable, ...] = ()
    msoid: MsoidTable | None = None


ARRAYS = ("endpoint", "ncsi_web", "ncsi_dns")  # [[kind]]: the others are [kind]
