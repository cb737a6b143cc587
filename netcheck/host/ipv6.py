"""How IPv6 is set up on this machine, to read beside the network's IPv6 verdicts.

Two places turn IPv6 off: the DisabledComponents value (machine-wide bits, KB 929852) and
the "Internet Protocol Version 6" box of an adapter (binding ms_tcpip6), which is what the
checklist unticks to test, then ticks again. Microsoft advises preferring IPv4 (0x20) over
disabling IPv6; leaving IPv6 off is a leftover worth a warning, not a failure.
"""

from __future__ import annotations

import sys
from typing import Any

from netcheck.host import causes
from netcheck.host.base import (
    Data,
    HostCheck,
    ReadError,
    Reading,
    Verdict,
    dword,
    interpreter,
    judge,
    key_values,
    warn,
)
from netcheck.host.collect import Key, powershell, read_key

PARAMETERS = r"HKLM\SYSTEM\CurrentControlSet\Services\Tcpip6\Parameters"
# DisabledComponents bits, low to high.
BITS = {
    0x01: "tunnel interfaces disabled",
    0x02: "6to4 disabled",
    0x04: "ISATAP disabled",
    0x08: "Teredo disabled",
    0x10: "IPv6 disabled on all non-tunnel interfaces (LAN, Wi-Fi, PPP)",
    0x20: "IPv4 preferred over IPv6",
}
ALL_DISABLED = 0xFF

_ADAPTERS = (
    "@{ adapters = @(Get-NetAdapter | Select-Object Name, InterfaceDescription, Status, "
    "MediaConnectState); bindings = @(Get-NetAdapterBinding -ComponentID ms_tcpip6 | "
    "Select-Object Name, Enabled) }"
)


def describe(value: int | None) -> str:
    """DisabledComponents in words, e.g. for the report next to an IPv6 verdict."""
    if not value:
        return "IPv6 fully enabled (DisabledComponents not set or 0, the default)"
    if value > ALL_DISABLED:
        return f"{value:#x}: not a valid value (Windows treats it as IPv6 disabled)"
    if value == ALL_DISABLED:
        return "0xff: IPv6 disabled except on the loopback interface"
    return f"{value:#x}: " + ", ".join(text for bit, text in BITS.items() if value & bit)


def this_machine() -> str:
    """`; this machine: DisabledComponents ...` for a network IPv6 verdict's detail, read
    on the spot (one registry value); "" off Windows or when it cannot be read."""
    if sys.platform != "win32":
        return ""
    try:
        found = read_key(Key(PARAMETERS, ("DisabledComponents",)))
    except ReadError:
        return ""
    value = dword((found or {}).get("values"), "DisabledComponents")
    return f"; this machine: DisabledComponents {describe(value)}"


def collect(timeout: float) -> Reading:
    data: dict[str, Any] = {
        "keys": {PARAMETERS: read_key(Key(PARAMETERS, ("DisabledComponents",)))}
    }
    try:
        data["adapters"] = powershell(_ADAPTERS, timeout)
    except ReadError as exc:  # the registry value alone still gives a verdict
        data["adapters_error"] = str(exc)
    return Reading(data)


def unbound_adapters(data: Data) -> list[str]:
    """Connected adapters whose IPv6 box is unticked."""
    found = (data.get("adapters") or [{}])[0] or {}
    connected = {
        a.get("Name")
        for a in found.get("adapters") or []
        if a.get("Status") == "Up" or a.get("MediaConnectState") == 1
    }
    return [
        b["Name"]
        for b in found.get("bindings") or []
        if b.get("Name") in connected and b.get("Enabled") is False
    ]


_PREFER_IPV4 = (
    "Microsoft does not recommend disabling IPv6. The checklist disables it only to test and "
    "then turns it back on. If IPv6 on this network is broken (see the -ipv6 network checks), "
    "fix that, or set DisabledComponents to 0x20 (prefer IPv4) instead of disabling IPv6: "
    "HKLM\\SYSTEM\\CurrentControlSet\\Services\\Tcpip6\\Parameters, then restart."
)
_INVALID = (
    "Set DisabledComponents to 0xFF (not 0xFFFFFFFF, which delays every start-up by five "
    f"seconds) if IPv6 must stay off. {_PREFER_IPV4}"
)
_BINDING = (
    "Tick 'Internet Protocol Version 6 (TCP/IPv6)' again in the adapter's properties "
    "(Network Connections > right-click the adapter > Properties) once the test is done."
)


@interpreter
def interpret(data: Data) -> Verdict:
    params = key_values(data, PARAMETERS)
    if params is None:
        raise ReadError(f"{PARAMETERS} does not exist")
    value = dword(params, "DisabledComponents")
    evidence = {"DisabledComponents": describe(value)}
    findings = []
    if value is not None and value > ALL_DISABLED:
        detail = f"DisabledComponents = {describe(value)}"
        findings.append(warn(causes.IPV6_INVALID_SETTING, detail, _INVALID))
    elif value is not None and value & 0x10:
        detail = f"IPv6 is disabled: DisabledComponents = {describe(value)}"
        findings.append(warn(causes.IPV6_DISABLED, detail, _PREFER_IPV4))
    if "adapters_error" in data:
        evidence["adapters"] = f"not read: {data['adapters_error']}"
    else:
        off = unbound_adapters(data)
        evidence["adapters without IPv6"] = ", ".join(off) or "none"
        if off:
            detail = f"IPv6 is unticked on connected adapter(s) {', '.join(off)}"
            findings.append(warn(causes.IPV6_DISABLED, detail, _BINDING))
    return judge(findings, describe(value), evidence)


CHECKS = (HostCheck("ipv6-state", "IPv6 is not left disabled on this machine", collect, interpret),)
