"""Windows' two proxy settings: WinHTTP (services, `netsh winhttp`) and WinINET (per user).

Office activation and licensing go through WinHTTP-based components, while browsers use
the per-user WinINET settings: a proxy set in Internet Options only is a classic reason
why the browser works and activation does not. On other systems everything here returns
nothing; parsing is plain Python and tested on recorded output.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass

INTERNET_SETTINGS = r"Software\Microsoft\Windows\CurrentVersion\Internet Settings"
WININET_VALUES = ("ProxyEnable", "ProxyServer", "ProxyOverride", "AutoConfigURL")
MISMATCH_ADVICE = (
    "Office activation uses WinHTTP: if the browser works but activation does not, set it "
    'with `netsh winhttp set proxy <proxy:port> "<bypass list>"` or copy the user\'s '
    "setting with `netsh winhttp import proxy source=ie` (elevated)."
)


@dataclass(frozen=True)
class ProxySetting:
    """One proxy configuration: a server (`host:port` or `http=..;https=..`), or direct."""

    server: str = ""
    bypass: str = ""
    pac_url: str = ""

    def __str__(self) -> str:
        parts = []
        if self.pac_url:
            parts.append(f"PAC {self.pac_url}")
        if self.server:
            parts.append(
                f"proxy {self.server}" + (f", bypass {self.bypass}" if self.bypass else "")
            )
        return "; ".join(parts) or "direct (no proxy)"

    def same_route(self, other: ProxySetting) -> bool:
        """Whether both send traffic the same way (server, bypass list and PAC)."""
        return self._route() == other._route()

    def _route(self) -> tuple[str, tuple[str, ...], str]:
        bypass = (p.strip().lower() for p in self.bypass.replace(",", ";").split(";") if p)
        return self.server.lower(), tuple(sorted(bypass)), self.pac_url


def parse_netsh(text: str) -> ProxySetting:
    """`netsh winhttp show proxy` output, in any display language.

    The labels are translated, so the parse is structural: with a proxy the output holds
    two "label : value" lines, the server first and the bypass list second; with direct
    access it holds none (a translated sentence, and a heading whose colon ends the line).
    """
    lines = (line.partition(" :") for line in text.splitlines())
    values = [
        value.strip() for label, sep, value in lines if sep and label.strip() and value.strip()
    ]
    if not values:
        return ProxySetting()
    bypass = values[1] if len(values) > 1 else ""
    if bypass.startswith("(") and bypass.endswith(")"):  # "(none)", "(keine)", "(aucun)"
        bypass = ""
    return ProxySetting(server=values[0], bypass=bypass)


def parse_wininet(values: dict[str, object]) -> ProxySetting:
    """The Internet Settings registry values (ProxyEnable, ProxyServer, ProxyOverride,
    AutoConfigURL) as WinINET applies them. ("Automatically detect settings" lives in a
    binary blob and is not read.)"""
    enabled = bool(values.get("ProxyEnable"))
    return ProxySetting(
        server=str(values.get("ProxyServer") or "") if enabled else "",
        bypass=str(values.get("ProxyOverride") or "") if enabled else "",
        pac_url=str(values.get("AutoConfigURL") or ""),
    )


def read_winhttp(run: Callable[[list[str]], str] | None = None) -> ProxySetting | None:
    """The machine's WinHTTP proxy; None off Windows or if netsh cannot be run."""
    if run is None:
        if sys.platform != "win32":
            return None
        run = _run
    try:
        return parse_netsh(run(["netsh", "winhttp", "show", "proxy"]))
    except (OSError, subprocess.SubprocessError):
        return None


def read_wininet() -> ProxySetting | None:
    """The current user's Internet Options proxy; None off Windows."""
    if sys.platform != "win32":
        return None
    import winreg

    values: dict[str, object] = {}
    try:
        with winreg.OpenKey(winreg.HKEY_CURRENT_USER, INTERNET_SETTINGS) as key:
            for name in WININET_VALUES:
                with contextlib.suppress(FileNotFoundError):
                    values[name] = winreg.QueryValueEx(key, name)[0]
    except OSError:
        return None
    return parse_wininet(values)


def _run(argv: list[str]) -> str:
    out = subprocess.run(argv, capture_output=True, timeout=10, check=True)
    return out.stdout.decode(errors="replace")  # the console code page; labels are not used


def environment_rows(
    winhttp: ProxySetting | None, wininet: ProxySetting | None
) -> tuple[dict[str, str], str | None]:
    """Report rows for both settings, and a warning when they route differently."""
    rows = {}
    if winhttp is not None:
        rows["WinHTTP proxy (netsh winhttp)"] = str(winhttp)
    if wininet is not None:
        rows["WinINET proxy (Internet Options, this user)"] = str(wininet)
    if winhttp is None or wininet is None or winhttp.same_route(wininet):
        return rows, None
    return rows, (
        f"The WinHTTP proxy ({winhttp}) differs from this user's Internet Options proxy "
        f"({wininet}). {MISMATCH_ADVICE}"
    )
