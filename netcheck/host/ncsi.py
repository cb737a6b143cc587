"""What Windows itself believes about the Internet (NCSI), and the settings behind it.

`Get-NetConnectionProfile` reports each connected network's IPv4 and IPv6 connectivity;
ConvertTo-Json writes these enums as numbers (4 is Internet) and Select-Object may keep
their names, so both are read. When Windows believes there is no Internet, Office may not
even try to activate, whatever the network checks say.
"""

from __future__ import annotations

from typing import Any

from netcheck.host import causes
from netcheck.host.base import (
    Data,
    HostCheck,
    Reading,
    Verdict,
    dword,
    fail,
    interpreter,
    judge,
    key_values,
    shown,
    warn,
)
from netcheck.host.collect import Key, powershell, registry_collector

# MSFT_NetConnectionProfile's IPv4Connectivity / IPv6Connectivity and NetworkCategory.
CONNECTIVITY = {0: "Disconnected", 1: "NoTraffic", 2: "Subnet", 3: "LocalNetwork", 4: "Internet"}
CATEGORY = {0: "Public", 1: "Private", 2: "DomainAuthenticated"}

_PROFILES = (
    "Get-NetConnectionProfile | Select-Object Name, InterfaceAlias, InterfaceIndex, "
    "NetworkCategory, IPv4Connectivity, IPv6Connectivity"
)


def collect_profiles(timeout: float) -> Reading:
    return Reading({"profiles": powershell(_PROFILES, timeout)})


def _name(value: Any, names: dict[int, str]) -> str:
    return names.get(value, str(value)) if isinstance(value, int) else str(value)


_NO_INTERNET = (
    "Windows does not see the Internet, so Office may not try to activate. Look at this "
    "report's NCSI checks (connecttest.txt and dns.msftncsi.com): if they fail, fix what "
    "they name; if they pass, a proxy is the likely reason (Windows probes without it): set "
    "the DWORD UseGlobalDns = 1 under HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows\\"
    "NetworkConnectivityStatusIndicator (the 'Specify global DNS' policy) and reconnect."
)


@interpreter
def interpret_profiles(data: Data) -> Verdict:
    evidence, internet = {}, []
    for p in data.get("profiles") or []:
        v4 = _name(p.get("IPv4Connectivity"), CONNECTIVITY)
        v6 = _name(p.get("IPv6Connectivity"), CONNECTIVITY)
        alias = p.get("InterfaceAlias") or p.get("InterfaceIndex") or "?"
        category = _name(p.get("NetworkCategory"), CATEGORY)
        evidence[f"profile {alias}"] = f"{p.get('Name')}: IPv4 {v4}, IPv6 {v6}, {category}"
        if "Internet" in (v4, v6):
            internet.append(f"{alias} (IPv4 {v4}, IPv6 {v6})")
    findings = []
    if not evidence:
        detail = "Windows reports no connected network"
        findings.append(fail(causes.NCSI_NO_CONNECTION, detail, _NO_INTERNET))
    elif not internet:
        detail = f"Windows sees no Internet on any network ({'; '.join(evidence.values())})"
        findings.append(fail(causes.NCSI_NO_INTERNET, detail, _NO_INTERNET))
    return judge(findings, "Windows sees the Internet on " + ", ".join(internet), evidence)


POLICY = r"HKLM\SOFTWARE\Policies\Microsoft\Windows\NetworkConnectivityStatusIndicator"
# The checklist's path has "Windows" twice; a value created there has no effect.
POLICY_MISSPELT = (
    r"HKLM\SOFTWARE\Policies\Microsoft\Windows\Windows\NetworkConnectivityStatusIndicator"
)
PROBES = r"HKLM\SYSTEM\CurrentControlSet\Services\NlaSvc\Parameters\Internet"
_POLICY_VALUES = ("NoActiveProbe", "UseGlobalDns")
# Windows' own probe targets: today's (Windows 10 1607 and later) and the older ones.
DEFAULT_PROBES = {
    "ActiveWebProbeHost": {"www.msftconnecttest.com", "www.msftncsi.com"},
    "ActiveWebProbePath": {"connecttest.txt", "ncsi.txt"},
    "ActiveWebProbeContent": {"Microsoft Connect Test", "Microsoft NCSI"},
    "ActiveWebProbeHostV6": {"ipv6.msftconnecttest.com", "ipv6.msftncsi.com"},
    "ActiveWebProbePathV6": {"connecttest.txt", "ncsi.txt"},
    "ActiveWebProbeContentV6": {"Microsoft Connect Test", "Microsoft NCSI"},
    "ActiveDnsProbeHost": {"dns.msftncsi.com"},
    "ActiveDnsProbeContent": {"131.107.255.255"},
    "ActiveDnsProbeHostV6": {"dns.msftncsi.com"},
    "ActiveDnsProbeContentV6": {"fd3e:4f5a:5b81::1"},
}

_PROBING = (
    "With active probing off, Windows can report 'No Internet' on a working network and "
    "Office may then not try to activate. Remove the 'Turn off Windows Network "
    "Connectivity Status Indicator active tests' policy (NoActiveProbe) or set "
    "EnableActiveProbing back to 1 under HKLM\\SYSTEM\\CurrentControlSet\\Services\\NlaSvc\\"
    "Parameters\\Internet, and allow the NCSI probe URLs through the firewall instead."
)
_CUSTOM = (
    "Windows probes the targets shown instead of Microsoft's, so this report's NCSI checks "
    "(which test Microsoft's) do not show what Windows sees: make sure these answer "
    "exactly as configured, or restore the defaults."
)
_MISPLACED = (
    "Windows reads UseGlobalDns only under HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows\\"
    "NetworkConnectivityStatusIndicator: create it there (the checklist's path repeats "
    "'Windows') or use the 'Specify global DNS' Group Policy."
)


@interpreter
def interpret_policy(data: Data) -> Verdict:
    policy, misspelt = key_values(data, POLICY), key_values(data, POLICY_MISSPELT)
    probes = key_values(data, PROBES) or {}
    evidence = {f"policy {name}": shown(dword(policy, name)) for name in _POLICY_VALUES}
    evidence["EnableActiveProbing"] = shown(dword(probes, "EnableActiveProbing"))
    findings = []
    if dword(policy, "NoActiveProbe"):
        detail = "a policy turns off NCSI's active probes (NoActiveProbe = 1)"
        findings.append(warn(causes.NCSI_PROBING_OFF, detail, _PROBING))
    elif dword(probes, "EnableActiveProbing") == 0:
        detail = "NCSI's active probes are off (EnableActiveProbing = 0)"
        findings.append(warn(causes.NCSI_PROBING_OFF, detail, _PROBING))
    custom = {
        name: probes[name]
        for name, defaults in DEFAULT_PROBES.items()
        if name in probes and probes[name] not in defaults
    }
    evidence |= {name: str(value) for name, value in custom.items()}
    if custom:
        detail = "Windows probes custom targets: " + ", ".join(
            f"{k} = {v}" for k, v in custom.items()
        )
        findings.append(warn(causes.NCSI_PROBE_CHANGED, detail, _CUSTOM))
    if dword(misspelt, "UseGlobalDns") is not None and dword(policy, "UseGlobalDns") is None:
        evidence[f"{POLICY_MISSPELT} UseGlobalDns"] = shown(dword(misspelt, "UseGlobalDns"))
        detail = (
            "UseGlobalDns is set under a key Windows does not read "
            "(...\\Windows\\Windows\\NetworkConnectivityStatusIndicator)"
        )
        findings.append(warn(causes.NCSI_POLICY_MISPLACED, detail, _MISPLACED))
    global_dns = "on" if dword(policy, "UseGlobalDns") else "off"
    return judge(
        findings, f"NCSI probes Microsoft's targets actively (UseGlobalDns {global_dns})", evidence
    )


CHECKS = (
    HostCheck(
        "ncsi-profile",
        "Windows sees the Internet (Get-NetConnectionProfile)",
        collect_profiles,
        interpret_profiles,
    ),
    HostCheck(
        "ncsi-policy",
        "NCSI probes actively, with Microsoft's targets",
        registry_collector(
            Key(POLICY, _POLICY_VALUES),
            Key(POLICY_MISSPELT, ("UseGlobalDns",)),
            Key(PROBES, ("EnableActiveProbing", *DEFAULT_PROBES)),
        ),
        interpret_policy,
    ),
)
