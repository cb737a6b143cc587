"""Windows' proxy settings as host checks: WinHTTP against WinINET, and the Connections blobs.

The parsing of `netsh winhttp show proxy` and of the Internet Settings values is
netcheck.winproxy's. The Connections key holds the same Internet Options settings as binary
values (DefaultConnectionSettings, and SavedLegacySettings, its copy); the checklist renames
the key when they are corrupt. They are decoded and compared here, never changed.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from netcheck.host import causes
from netcheck.host.base import (
    Data,
    HostCheck,
    ReadError,
    Reading,
    Verdict,
    fail,
    interpreter,
    judge,
    key_values,
    warn,
)
from netcheck.host.collect import Key, read_key, registry_collector, run_command, system_program
from netcheck.winproxy import (
    INTERNET_SETTINGS,
    MISMATCH_ADVICE,
    WININET_VALUES,
    ProxySetting,
    environment_rows,
    parse_netsh,
    parse_wininet,
)

USER_SETTINGS = "HKCU\\" + INTERNET_SETTINGS
CONNECTIONS = (
    USER_SETTINGS + r"\Connections",
    r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Internet Settings\Connections",
)
BLOBS = ("DefaultConnectionSettings", "SavedLegacySettings")


def collect_routes(timeout: float) -> Reading:
    done = run_command(
        [system_program("System32", "netsh.exe"), "winhttp", "show", "proxy"], timeout
    )
    text = done.stdout.decode("utf-8", errors="replace")  # labels are not read, only layout
    if done.returncode != 0:
        raise ReadError(f"netsh winhttp show proxy failed (exit code {done.returncode})")
    return Reading(
        {"netsh": text, "keys": {USER_SETTINGS: read_key(Key(USER_SETTINGS, WININET_VALUES))}}
    )


@interpreter
def interpret_routes(data: Data) -> Verdict:
    winhttp = parse_netsh(str(data.get("netsh", "")))
    wininet = parse_wininet(key_values(data, USER_SETTINGS) or {})
    rows, warning = environment_rows(winhttp, wininet)
    findings = []
    if warning is not None:
        detail = f"WinHTTP uses {winhttp}, this user's Internet Options {wininet}"
        findings.append(warn(causes.PROXY_MISMATCH, detail, MISMATCH_ADVICE))
    return judge(findings, f"WinHTTP and Internet Options both use {winhttp}", rows)


# DefaultConnectionSettings' flags (byte 8): 0x1 is always set.
_MANUAL, _PAC, _AUTODETECT = 0x2, 0x4, 0x8


@dataclass(frozen=True)
class ConnectionSettings:
    """A decoded Connections value: a version (0x3C or 0x46), a change counter, flags, then
    three length-prefixed strings (proxy server, bypass list, PAC URL) and WPAD state."""

    version: int
    flags: int
    server: str
    bypass: str
    pac_url: str

    @property
    def setting(self) -> ProxySetting:
        manual = bool(self.flags & _MANUAL)
        return ProxySetting(
            self.server if manual else "",
            self.bypass if manual else "",
            self.pac_url if self.flags & _PAC else "",
        )

    def same(self, other: ConnectionSettings) -> bool:
        return (
            self.setting.same_route(other.setting)
            and self.flags & _AUTODETECT == other.flags & _AUTODETECT
        )

    def __str__(self) -> str:
        detect = ", automatically detect settings" if self.flags & _AUTODETECT else ""
        return f"{self.setting}{detect} (flags {self.flags:#x})"


def decode(hex_value: str) -> ConnectionSettings:
    """ValueError saying what is wrong when the value does not have this layout."""
    blob = bytes.fromhex(hex_value)
    if len(blob) < 12:
        raise ValueError(f"{len(blob)} bytes, too short for its header")
    version, _counter, flags = struct.unpack_from("<III", blob)
    strings, offset = [], 12
    for what in ("proxy server", "bypass list", "PAC URL"):
        if offset + 4 > len(blob):
            raise ValueError(f"ends before the {what}")
        (length,) = struct.unpack_from("<I", blob, offset)
        raw = blob[offset + 4 : offset + 4 + length]
        if len(raw) < length:
            raise ValueError(f"the {what} claims {length} bytes, only {len(raw)} follow")
        if not all(32 <= b < 127 for b in raw):
            raise ValueError(f"the {what} holds non-text bytes")
        strings.append(raw.decode("ascii"))
        offset += 4 + length
    return ConnectionSettings(version, flags, *strings)


_CORRUPT = (
    "Back up the registry, then, as the checklist says, rename the Connections key to "
    "Connections.old (regedit, elevated for HKLM), restart, and set the proxy again in "
    "Settings > Network & Internet > Proxy: Windows writes fresh values. netcheck changes "
    "nothing itself."
)
_DISAGREE = (
    "Apply the proxy setting again (Settings > Network & Internet > Proxy, or Internet "
    "Options > Connections > LAN settings) so Windows rewrites both; if they still differ, "
    f"treat them as corrupt. {_CORRUPT}"
)


@interpreter
def interpret_connections(data: Data) -> Verdict:
    findings, evidence, decoded = [], {}, {}
    for path in CONNECTIONS:
        values = key_values(data, path) or {}
        for name in BLOBS:
            where = f"{path}\\{name}"
            if not isinstance(values.get(name), str):
                evidence[where] = "not set"
                continue
            try:
                decoded[where] = decode(values[name])
            except ValueError as exc:
                evidence[where] = f"corrupt: {exc}"
                detail = f"{name} under {path} is corrupt ({exc})"
                findings.append(fail(causes.PROXY_CONNECTIONS_CORRUPT, detail, _CORRUPT))
            else:
                evidence[where] = str(decoded[where])
    default, saved = (decoded.get(f"{CONNECTIONS[0]}\\{name}") for name in BLOBS)
    if default and saved and not default.same(saved):
        detail = (
            f"this user's DefaultConnectionSettings ({default.setting}) and "
            f"SavedLegacySettings ({saved.setting}) differ"
        )
        findings.append(warn(causes.PROXY_CONNECTIONS_DISAGREE, detail, _DISAGREE))
    wininet = parse_wininet(key_values(data, USER_SETTINGS) or {})
    evidence["Internet Settings values"] = str(wininet)
    if default and not default.setting.same_route(wininet):
        detail = (
            f"this user's DefaultConnectionSettings ({default.setting}) and "
            f"Internet Settings values ({wininet}) differ"
        )
        findings.append(warn(causes.PROXY_CONNECTIONS_DISAGREE, detail, _DISAGREE))
    ok = (
        f"the Connections values decode and agree: {default}"
        if default
        else ("this user has no Connections values (never configured: Windows defaults)")
    )
    return judge(findings, ok, evidence)


CHECKS = (
    HostCheck(
        "proxy-winhttp",
        "WinHTTP and this user's Internet Options use the same proxy",
        collect_routes,
        interpret_routes,
    ),
    HostCheck(
        "proxy-connections",
        "The Connections registry values are sound and agree",
        registry_collector(
            *(Key(path, BLOBS) for path in CONNECTIONS), Key(USER_SETTINGS, WININET_VALUES)
        ),
        interpret_connections,
    ),
)
