"""URLs and host names, normalised or rejected in one place.

A URL is parsed once into a `Url`: scheme (lower case), host (an IPv4/IPv6 literal, or a
name in lower case, its IDNA 2008 A-label form, without a trailing dot), port (explicit or
the scheme's), and the request target (path and query, percent-encoded). Everything netcheck
probes, shows and compares goes through here, so `HTTPS://Host./a b` and
`https://host/a%20b` are the same URL, and a long s or a Kelvin sign in a name is refused,
not probed as an s or a k. Control characters (a tab, a newline) are refused, not dropped.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

import idna

DEFAULT_PORTS = {"http": 80, "https": 443}
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
_NUMERIC = re.compile(r"[0-9]+|0x[0-9a-f]*")  # a last label IPv4 parsers read as a number
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
# user:password@, up to the last "@" before any query: a password may hold a "/".
_USERINFO = re.compile(r"^([a-z][a-z0-9+.-]*:)?//[^?#]*@", re.IGNORECASE)
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
    IDNA 2008 disallows (the long s, the Kelvin sign, capitals outside ASCII, symbols), an
    invalid A-label, or a name an IPv4 parser would read as an address (`127.1`, `0x7f.1`)
    raises ValueError. Only ASCII letters are lowered: no other character becomes ASCII.
    """
    name = value.strip().removesuffix(".")
    if not name or is_ip(name):
        raise ValueError(f"{value!r} is not a host name" + (" (an IP address)" if name else ""))
    try:
        labels = [_label(label) for label in name.split(".")]
    except (idna.IDNAError, UnicodeError) as exc:
        raise ValueError(f"{value!r} is not a valid host name ({exc})") from None
    ascii_name = ".".join(labels)
    checked = [label.replace("*", "x") if wildcard else label for label in labels]
    if len(ascii_name) > 253 or not all(_LABEL.fullmatch(label) for label in checked):
        raise ValueError(f"{value!r} is not a valid host name")
    if _NUMERIC.fullmatch(labels[-1]):
        raise ValueError(f"{value!r} is not a host name (an IPv4 address in another notation)")
    return ascii_name


def _label(label: str) -> str:
    """One label as an A-label (ASCII letters in lower case; an `xn--` label must decode)."""
    label = "".join(c.lower() if c.isascii() else c for c in label)
    if not label.isascii():
        return idna.alabel(label).decode()
    if label.startswith("xn--"):
        idna.ulabel(label)
    return label


def redact(url: str) -> str:
    """The URL without any user:password@, for messages (a path holding "@" loses its
    beginning too: better than showing part of a password)."""
    return _USERINFO.sub(lambda m: f"{m.group(1) or ''}//***@", url, count=1)


def _encoded(text: str, safe: str) -> str:
    """Percent-encoded: what needs it encoded, a `%` that starts no escape too, escapes in
    upper case (`%7e` and `%7E` are the same URL)."""
    text = quote(_BAD_ESCAPE.sub("%25", text), safe=safe)
    return _ESCAPE.sub(lambda m: m.group().upper(), text)


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
        shown = redact(value)  # what a message may repeat
        if not value.isprintable():
            raise ValueError(f"{shown!r}: control characters are not allowed in a URL")
        try:
            parts = urlsplit(value)
        except ValueError as exc:  # brackets that do not hold an IPv6 address
            raise ValueError(f"{shown!r}: {exc}") from None
        if "@" in parts.netloc:
            raise ValueError(f"{shown!r}: credentials (user:password@) are not allowed")
        try:
            port = parts.port
        except ValueError:  # not repeated: it may be part of a password holding a "/"
            port = 0
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PORTS:
            raise ValueError(f"{shown!r}: the scheme must be http:// or https://")
        if not parts.hostname:
            raise ValueError(f"{shown!r} has no host")
        if port == 0:
            raise ValueError(f"{shown!r}: the port must be a number from 1 to 65535")
        # Not parts.hostname: it lowers every letter, and a Kelvin sign would become a k.
        host = parts.netloc.rpartition(":")[0] if port is not None else parts.netloc.rstrip(":")
        host = host.removeprefix("[").removesuffix("]")
        host = str(ipaddress.ip_address(host)) if is_ip(host) else hostname(host, wildcard=wildcard)
        path = _encoded(parts.path or "/", _SAFE_PATH)
        query = f"?{_encoded(parts.query, _SAFE_QUERY)}" if parts.query else ""
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
