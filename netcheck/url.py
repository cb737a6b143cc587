"""URLs and host names, normalised or rejected in one place.

A URL is parsed once into a `Url`: scheme (lower case), host (an IPv4/IPv6 literal, or a
name in lower case, its IDNA 2008 A-label form, without a trailing dot), port (explicit or
the scheme's), and the request target (path and query, percent-encoded). Everything netcheck
probes, shows and compares goes through here, so `HTTPS://Host./a b` and
`https://host/a%20b` are the same URL and a long s in a name is refused, not probed as
an s.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

import idna

DEFAULT_PORTS = {"http": 80, "https": 443}
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
_USERINFO = re.compile(r"^([a-z][a-z0-9+.-]*:)?//[^/?#]*@", re.IGNORECASE)
_SAFE_PATH = "/%:@!$&'()*+,;=-._~"  # RFC 3986 pchar and "/", with "%" kept as it is
_SAFE_QUERY = _SAFE_PATH + "?"


def is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def hostname(value: str, *, wildcard: bool = False) -> str:
    """A host name in its ASCII form; `wildcard` lets `*` stand for part of a label.

    Unicode names are accepted as IDNA 2008 allows them and returned as A-labels
    (`bücher.example` -> `xn--bcher-kva.example`); a trailing dot is dropped; a name that
    IDNA 2008 disallows (the long s, symbols) or that is no host name at all raises ValueError.
    """
    name = value.strip().removesuffix(".").lower()
    if not name or is_ip(name):
        raise ValueError(f"{value!r} is not a host name" + (" (an IP address)" if name else ""))
    try:
        ascii_name = name if name.isascii() else idna.encode(name).decode()
    except idna.IDNAError as exc:
        raise ValueError(f"{value!r} is not a valid host name ({exc})") from None
    labels = ascii_name.replace("*", "x").split(".") if wildcard else ascii_name.split(".")
    if len(ascii_name) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise ValueError(f"{value!r} is not a valid host name")
    return ascii_name


def redact(url: str) -> str:
    """The URL without any user:password@, for messages."""
    return _USERINFO.sub(lambda m: f"{m.group(1) or ''}//***@", url, count=1)


@dataclass(frozen=True)
class Url:
    scheme: str  # "http" or "https"
    host: str  # a name (ASCII, lower case) or an IP literal without brackets
    port: int
    target: str  # the request target: path and query, starting with "/"

    @classmethod
    def parse(cls, text: str, *, wildcard: bool = False) -> Url:
        """Parse and normalise an http(s) URL; ValueError with a short reason otherwise.
        Credentials are refused: they never belong in a URL netcheck probes or shows."""
        value = text.strip()
        if redact(value) != value:
            raise ValueError(f"{redact(value)!r}: credentials (user:password@) are not allowed")
        try:
            parts = urlsplit(value)
            port = parts.port
        except ValueError as exc:
            raise ValueError(f"{value!r}: {exc}") from None
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PORTS:
            raise ValueError(f"{value!r}: the scheme must be http:// or https://")
        if not parts.hostname:
            raise ValueError(f"{value!r} has no host")
        if port == 0:
            raise ValueError(f"{value!r}: port 0 is not a port")
        host = parts.hostname
        host = str(ipaddress.ip_address(host)) if is_ip(host) else hostname(host, wildcard=wildcard)
        path = quote(parts.path or "/", safe=_SAFE_PATH)
        query = f"?{quote(parts.query, safe=_SAFE_QUERY)}" if parts.query else ""
        return cls(scheme, host, port or DEFAULT_PORTS[scheme], path + query)

    @property
    def https(self) -> bool:
        return self.scheme == "https"

    @property
    def authority(self) -> str:
        """`host[:port]` as a Host header or CONNECT names it (the default port left out)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"

    @property
    def host_port(self) -> str:
        """`host:port` with the port always given (CONNECT's request target)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def __str__(self) -> str:
        return f"{self.scheme}://{self.authority}{self.target}"
