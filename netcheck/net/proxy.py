"""Which proxy a URL goes through, and where that choice comes from.

Every source is named, none applied silently (`--proxy=SOURCE`):
- a URL (`http://[user:pass@]host:port`), or `none`;
- `env`: HTTPS_PROXY / HTTP_PROXY / NO_PROXY (read once, when the run starts);
- `winhttp`: Windows' WinHTTP setting (`netsh winhttp show proxy`), what Office activation
  uses: the default on Windows;
- `system`: the user's setting: Internet Options (WinINET) on Windows, with its PAC URL;
  System Settings on macOS (the default there);
- a PAC file or URL (`--pac`), evaluated per URL (netcheck.net.pac).
Elsewhere the default is `env`.
"""

from __future__ import annotations

import fnmatch
import os
import sys
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote

from netcheck import failures as f
from netcheck import winproxy
from netcheck.failures import Failure, Layer
from netcheck.net.auth import Credentials
from netcheck.net.http import HttpAnswer
from netcheck.url import Url, is_ip

SOURCES = ("auto", "none", "env", "winhttp", "system")
ENV_NAMES = ("https_proxy", "http_proxy", "all_proxy", "no_proxy")


class ProxyError(ValueError):
    """A proxy setting that cannot be used; one line, never the password."""


@dataclass(frozen=True)
class Proxy:
    host: str
    port: int
    username: str = ""
    password: str = field(default="", repr=False)

    @classmethod
    def parse(cls, value: str) -> Proxy:
        """`[http://][user[:password]@]host:port`; the password may hold any character
        (also `/`, `@`, `:`), percent-encoded or not. Raises ProxyError (never naming it)."""
        text = value.strip()
        scheme, sep, rest = text.partition("://")
        if not sep:
            scheme, rest = "http", text
        if scheme.lower() != "http":
            raise ProxyError(f"only http:// proxies are supported, not {scheme}://")
        userinfo, _, hostport = rest.rstrip("/").rpartition("@")
        username, _, password = userinfo.partition(":")
        if "/" in hostport or "?" in hostport:
            raise ProxyError("a proxy is host:port, without a path")
        if hostport.startswith("["):
            host, _, port = hostport[1:].partition("]")
            port = port.removeprefix(":")
        else:
            host, _, port = hostport.rpartition(":") if ":" in hostport else (hostport, "", "")
        if not host or "/" in host or "@" in host:
            raise ProxyError("expected http://[user:password@]host:port")
        if not port:
            raise ProxyError(f"give the proxy's port: http://{host}:PORT")
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise ProxyError(f"the proxy's port must be 1-65535 (host {host})")
        return cls(host.lower(), int(port), unquote(username), unquote(password))

    @property
    def credentials(self) -> Credentials:
        return Credentials(self.username, self.password)

    @property
    def endpoint(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def __str__(self) -> str:
        """The proxy as shown in reports: credentials never appear."""
        user = f"{self.username}:***@" if self.username else ""
        return f"http://{user}{self.endpoint}"


@dataclass(frozen=True)
class Rules:
    """A static proxy setting: a proxy per scheme ("*" for all) and the hosts that bypass it."""

    proxies: Mapping[str, Proxy] = field(default_factory=dict)
    bypass: tuple[str, ...] = ()  # host patterns (fnmatch, lower case)
    bypass_local: bool = False  # Windows' <local>: names without a dot
    env: Mapping[str, str] | None = None  # NO_PROXY semantics from this snapshot instead

    def proxy_for(self, url: Url) -> Proxy | None:
        proxy = self.proxies.get(url.scheme) or self.proxies.get("*")
        if proxy is None or self._bypassed(url):
            return None
        return proxy

    def _bypassed(self, url: Url) -> bool:
        if self.env is not None:
            return bool(urllib.request.proxy_bypass_environment(url.host, proxies=dict(self.env)))
        if self.bypass_local and "." not in url.host and not is_ip(url.host):
            return True
        return any(fnmatch.fnmatchcase(url.host, p) for p in self.bypass)

    def describe(self) -> str:
        shown = "; ".join(
            f"{scheme}: {p}" if scheme != "*" else str(p) for scheme, p in self.proxies.items()
        )
        return shown + (
            " (with bypass rules)" if self.bypass or self.bypass_local or self.env else ""
        )


def from_environment(environ: Mapping[str, str]) -> Rules:
    """HTTPS_PROXY, HTTP_PROXY, ALL_PROXY (for either scheme) and NO_PROXY, as curl and
    requests read them: the lower-case name wins where both are set."""
    found = {n: environ.get(n) or environ.get(n.upper()) for n in ENV_NAMES}
    proxies = {}
    for scheme, name in (("https", "https_proxy"), ("http", "http_proxy"), ("*", "all_proxy")):
        if value := found[name]:
            try:
                proxies[scheme] = Proxy.parse(value)
            except ProxyError as exc:
                raise ProxyError(f"{name.upper()}: {exc}") from None
    bypass = ",".join(e.strip().rstrip(".") for e in (found["no_proxy"] or "").split(","))
    return Rules(proxies, env={"no": bypass} if found["no_proxy"] else {})


def from_windows(setting: winproxy.ProxySetting) -> Rules:
    """A WinHTTP or WinINET setting: `host:port` for every scheme or `http=h:p;https=h:p`,
    and a bypass list of `;`-separated host patterns, `<local>` for names without a dot."""
    proxies: dict[str, Proxy] = {}
    for part in filter(None, (p.strip() for p in setting.server.split(";"))):
        scheme, sep, value = part.partition("=")
        if not sep:
            scheme, value = "*", part
        if scheme.lower() in ("*", "http", "https"):
            try:
                proxies[scheme.lower()] = Proxy.parse(value)
            except ProxyError as exc:
                raise ProxyError(f"proxy server {part!r}: {exc}") from None
    patterns = [p.strip().lower() for p in setting.bypass.replace(",", ";").split(";") if p.strip()]
    return Rules(
        proxies,
        bypass=tuple(p for p in patterns if p != "<local>"),
        bypass_local="<local>" in patterns,
    )


@dataclass(frozen=True)
class ProxySource:
    """The proxy setting a run uses: what it is, and where it came from."""

    origin: str  # for reports: "--proxy", "WinHTTP (netsh winhttp show proxy)", ...
    rules: Rules = field(default_factory=Rules)
    pac_url: str = ""  # a PAC file the source points to (Internet Options' AutoConfigURL)
    note: str = ""  # something worth saying next to it (a setting that is ignored)

    def describe(self) -> str:
        if self.pac_url:
            said = f"PAC {self.pac_url}, from {self.origin}"
        elif self.rules.proxies:
            said = f"{self.rules.describe()}, from {self.origin}"
        elif self.origin.startswith("--proxy"):
            said = f"direct ({self.origin})"
        else:
            said = f"direct: no proxy set in {self.origin}"
        return said + (f"; {self.note}" if self.note else "")


def source(
    choice: str | None, environ: Mapping[str, str] | None = None, named: str = "--proxy"
) -> ProxySource:
    """The proxy source for `--proxy` (a URL, none, env, winhttp, system; default auto);
    `named` says where the choice was given (the option, its environment or ini twin)."""
    environ = os.environ if environ is None else environ
    value = (choice or "auto").strip()
    name = value.lower()
    if name not in SOURCES:
        proxy = Proxy.parse(value)
        return ProxySource(named, Rules({"*": proxy}))
    if name == "auto":
        name = {"win32": "winhttp", "darwin": "system"}.get(sys.platform, "env")
        chosen = source(name, environ)
        ignored = [k for k in environ if k.lower() in ENV_NAMES[:3] and environ[k]]
        if name != "env" and ignored:
            note = f"{', '.join(ignored)} ignored as Office ignores it (--proxy=env uses it)"
            return ProxySource(chosen.origin, chosen.rules, chosen.pac_url, note)
        return chosen
    if name == "none":
        return ProxySource(f"{named}=none")
    if name == "env":
        return ProxySource(
            "the environment (HTTPS_PROXY, HTTP_PROXY, NO_PROXY)", from_environment(environ)
        )
    if name == "winhttp":
        setting = winproxy.read_winhttp()
        if setting is None:
            raise ProxyError("--proxy=winhttp: WinHTTP settings exist on Windows only")
        return ProxySource(
            "WinHTTP (netsh winhttp show proxy), as Office activation", from_windows(setting)
        )
    return _system()


def _system() -> ProxySource:
    if sys.platform == "win32":
        setting = winproxy.read_wininet()
        if setting is None:
            raise ProxyError("--proxy=system: cannot read this user's Internet Options")
        origin = "Internet Options (WinINET, this user)"
        return ProxySource(origin, from_windows(setting), pac_url=setting.pac_url)
    if sys.platform == "darwin":
        import _scproxy  # type: ignore[import-not-found]  # CPython's SystemConfiguration reader

        proxies = {}
        for scheme, value in urllib.request.getproxies_macosx_sysconf().items():
            if scheme in ("http", "https"):
                proxies[scheme] = Proxy.parse(value)
        settings = _scproxy._get_proxy_settings()
        bypass = tuple(str(p).lower() for p in settings.get("exceptions", ()))
        rules = Rules(proxies, bypass=bypass, bypass_local=bool(settings.get("exclude_simple")))
        return ProxySource("macOS system settings", rules)
    raise ProxyError("--proxy=system: system proxy settings are read on Windows and macOS")


# Headers only a proxy or filter adds to an answer it generated itself.
PROXY_FINGERPRINTS = (
    "x-squid-error",
    "proxy-status",
    "x-bluecoat-via",
    "x-zscaler-error",
    "x-proxy-error",
    "x-fortigate-error",
)


def reject_proxy_made(answer: HttpAnswer, what: str) -> None:
    """A plain-HTTP answer the proxy made itself (its marks, or a CONNECT answer to a GET)
    is a proxy failure, never the origin's. An unmarked error the proxy relays is the
    origin's: the path is open."""
    marked = any(h in answer.headers for h in PROXY_FINGERPRINTS)
    if marked or "connection established" in answer.reason.lower():
        raise proxy_refusal(answer, what)


def proxy_refusal(answer: HttpAnswer, what: str) -> Failure:
    """The failure for an answer a proxy generated itself (block page, gateway error)."""
    marked = ("via", *PROXY_FINGERPRINTS)
    marks = "; ".join(f"{k}: {v}" for k, v in answer.all_headers if k.lower() in marked)
    detail = f"the proxy answered {answer.status} {answer.reason} to {what}" + (
        f" ({marks})" if marks else ""
    )
    squid_denied = "ERR_ACCESS_DENIED" in answer.headers.get("x-squid-error", "")
    if answer.status in (403, 405, 451) or squid_denied:
        return Failure(Layer.PROXY, f.PROXY_DENIED, detail)
    return Failure(Layer.PROXY, f.PROXY_ERROR, detail)
