"""Proxy auto-config (PAC): pick the proxy per URL as Windows and browsers do.

The JavaScript runs in pypac's embedded interpreter (dukpy), an optional dependency
(`pip install 'netcheck[pac]'`). Only the first usable choice of FindProxyForURL is taken
(a PROXY, or DIRECT): netcheck tests that choice, it does not fail over to the next.
PAC helpers that resolve names (dnsResolve, isInNet) use the system resolver.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from urllib.parse import urlsplit


class PacError(Exception):
    """A PAC file that cannot be used; the message is one line."""


@dataclass(frozen=True)
class Pac:
    source: str  # the file or URL, for reports
    script: str = field(repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)

    def __post_init__(self) -> None:
        try:
            from pypac.parser import MalformedPacError, PACFile
        except ImportError:
            raise PacError("--pac needs pypac: pip install 'netcheck[pac]'") from None
        try:
            object.__setattr__(self, "_file", PACFile(self.script))
        except MalformedPacError as exc:
            raise PacError(f"{self.source}: not a usable PAC file ({_first_line(exc)})") from None

    def choose(self, url: str) -> tuple[str, str | None]:
        """(what FindProxyForURL returned, the proxy URL to use or None for DIRECT)."""
        from pypac.resolver import parse_pac_value

        with self._lock:  # one JavaScript interpreter, not thread-safe
            try:
                answer = self._file.find_proxy_for_url(url, urlsplit(url).hostname or "")  # type: ignore[attr-defined]
            except Exception as exc:  # a JavaScript error inside FindProxyForURL
                raise PacError(f"FindProxyForURL failed for {url}: {_first_line(exc)}") from None
        for choice in parse_pac_value(answer):
            if choice == "DIRECT":
                return answer, None
            if choice.startswith("http://"):
                return answer, choice
        raise PacError(f"the PAC file offers no HTTP proxy or DIRECT for {url}: {answer!r}")


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
