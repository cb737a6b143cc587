"""Proxy authentication as corporate proxies ask for it: Negotiate (Kerberos), NTLM, Basic.

pyspnego does the NTLM and Kerberos work: on Windows through SSPI, with the logged-on
user's credentials when none are given (what Office does); elsewhere with the `user:password`
of the proxy URL (NTLM, or Negotiate falling back to it) or, without a password, a Kerberos
ticket cache (`kinit`; needs the `gssapi` package). A connection-based scheme (NTLM,
Negotiate) runs its legs on one kept-alive connection.
"""

from __future__ import annotations

import base64
import re
import sys
from dataclasses import dataclass

from netcheck import failures as f
from netcheck.failures import Failure, Layer

PREFERENCE = ("negotiate", "ntlm", "basic")  # the strongest scheme the proxy offers wins
# A challenge starts at a scheme name not followed by "=" (which would be an auth-param).
_CHALLENGE = re.compile(r"(?:^|,)\s*([A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*)(?=\s|,|$)(?!\s*=)")


def offered(values: list[str]) -> dict[str, str]:
    """Proxy-Authenticate values as {scheme (lower case): its token or parameters}."""
    schemes: dict[str, str] = {}
    for value in values:
        matches = list(_CHALLENGE.finditer(value))
        for i, m in enumerate(matches):
            end = matches[i + 1].start() if i + 1 < len(matches) else len(value)
            schemes.setdefault(m.group(1).lower(), value[m.end() : end].strip().strip(","))
    return schemes


@dataclass(frozen=True)
class Credentials:
    username: str = ""
    password: str = ""

    @property
    def given(self) -> bool:
        return bool(self.username)


class ProxyAuth:
    """One authentication with one proxy: choose a scheme from a 407, then answer its
    challenges until the proxy accepts or refuses."""

    def __init__(self, proxy_host: str, credentials: Credentials) -> None:
        self.host, self.credentials = proxy_host, credentials
        self.scheme = ""
        self._context = None

    def respond(self, challenge: dict[str, str], what: str) -> str:
        """The Proxy-Authorization value answering this 407 (its Proxy-Authenticate)."""
        if self.scheme:  # a leg of the scheme under way
            token = challenge.get(self.scheme, "")
            if self.scheme == "basic" or not token or self._context is None:
                raise self._rejected(challenge, what)
            return self._step(base64.b64decode(token))
        usable = [s for s in PREFERENCE if s in challenge and self._can(s)]
        if not usable:
            raise self._cannot(challenge, what)
        self.scheme = usable[0]
        if self.scheme == "basic":
            pair = f"{self.credentials.username}:{self.credentials.password}"
            return "Basic " + base64.b64encode(pair.encode()).decode()
        return self._step(None)

    def _can(self, scheme: str) -> bool:
        if scheme == "basic":
            return self.credentials.given
        return self.credentials.given or integrated_auth_available(scheme)

    def _step(self, token: bytes | None) -> str:
        import spnego
        import spnego.exceptions

        try:
            if self._context is None:
                self._context = spnego.client(
                    self.credentials.username or None,
                    self.credentials.password or None,
                    hostname=self.host,
                    service="HTTP",
                    protocol=self.scheme,
                )
            out = self._context.step(token)
        except (spnego.exceptions.SpnegoError, ValueError, OSError) as exc:
            raise Failure(
                Layer.PROXY,
                f.PROXY_AUTH_FAILED,
                f"{self.scheme.capitalize()} authentication with the proxy could not proceed: "
                f"{_one_line(exc)}",
            ) from None
        return f"{'NTLM' if self.scheme == 'ntlm' else self.scheme.capitalize()} " + (
            base64.b64encode(out or b"").decode()
        )

    def _cannot(self, challenge: dict[str, str], what: str) -> Failure:
        schemes = ", ".join(_name(s) for s in challenge) or "none"
        if not self.credentials.given and any(s in PREFERENCE for s in challenge):
            ticket = " or get a Kerberos ticket (kinit)" if "negotiate" in challenge else ""
            return Failure(
                Layer.PROXY,
                f.PROXY_AUTH_REQUIRED,
                f"the proxy wants authentication for {what}; it offers {schemes}: give "
                f"credentials in the proxy URL (http://DOMAIN%5Cuser:password@proxy:port){ticket}",
            )
        return Failure(
            Layer.PROXY,
            f.PROXY_AUTH_UNSUPPORTED,
            f"the proxy wants authentication for {what} and offers {schemes}; netcheck speaks "
            "Negotiate, NTLM and Basic",
        )

    def _rejected(self, challenge: dict[str, str], what: str) -> Failure:
        schemes = ", ".join(_name(s) for s in challenge) or "none"
        return Failure(
            Layer.PROXY,
            f.PROXY_AUTH_FAILED,
            f"the proxy rejected the {_name(self.scheme)} credentials for {what} (it offers "
            f"{schemes})",
        )


def integrated_auth_available(scheme: str) -> bool:
    """Whether NTLM/Negotiate can run without a password: SSPI on Windows (the logged-on
    user), or Kerberos through GSSAPI with a ticket cache."""
    if sys.platform == "win32":
        return True
    if scheme != "negotiate":
        return False
    try:
        import gssapi
    except ImportError:
        return False
    try:
        return gssapi.Credentials(usage="initiate").lifetime > 0
    except gssapi.exceptions.GSSError:
        return False


def _name(scheme: str) -> str:
    return {"ntlm": "NTLM", "negotiate": "Negotiate", "basic": "Basic"}.get(scheme, scheme)


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())[:300] or type(exc).__name__
