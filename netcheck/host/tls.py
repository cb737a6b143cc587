"""TLS 1.2 on this machine: SChannel, WinHTTP, Internet Options and .NET.

Windows 8.1 / Server 2012 R2 and later use TLS 1.2 unless a setting turns it off; the
systems the checklist names (Windows 7 SP1, Server 2008 R2 SP1, Server 2012, and Windows 8
with them) need an update and registry values first. Each check reads the Windows version
with its own keys and judges them by it.
"""

from __future__ import annotations

from dataclasses import dataclass

from netcheck.host import causes
from netcheck.host.base import (
    Data,
    HostCheck,
    ReadError,
    Verdict,
    dword,
    fail,
    interpreter,
    judge,
    key_values,
    shown,
    warn,
)
from netcheck.host.collect import Key, registry_collector

CURRENT_VERSION = r"HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion"
ENVIRONMENT = r"HKLM\SYSTEM\CurrentControlSet\Control\Session Manager\Environment"
SCHANNEL_CLIENT = (
    r"HKLM\SYSTEM\CurrentControlSet\Control\SecurityProviders\SCHANNEL\Protocols\TLS 1.2\Client"
)
WINHTTP = r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Internet Settings\WinHttp"
WINHTTP_WOW = (
    r"HKLM\SOFTWARE\Wow6432Node\Microsoft\Windows\CurrentVersion\Internet Settings\WinHttp"
)
# Where SecureProtocols (Internet Options > Advanced > Use TLS ...) is looked up, in order of
# precedence: the "Turn off encryption support" policy, then the user's and the machine's.
INTERNET_SETTINGS = (
    r"HKLM\SOFTWARE\Policies\Microsoft\Windows\CurrentVersion\Internet Settings",
    r"HKCU\Software\Policies\Microsoft\Windows\CurrentVersion\Internet Settings",
    r"HKCU\Software\Microsoft\Windows\CurrentVersion\Internet Settings",
    r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Internet Settings",
)
DOTNET = (
    r"HKLM\SOFTWARE\Microsoft\.NETFramework\v4.0.30319",
    r"HKLM\SOFTWARE\Wow6432Node\Microsoft\.NETFramework\v4.0.30319",
    r"HKLM\SOFTWARE\Microsoft\.NETFramework\v2.0.50727",
    r"HKLM\SOFTWARE\Wow6432Node\Microsoft\.NETFramework\v2.0.50727",
)
DOTNET_VALUES = ("SchUseStrongCrypto", "SystemDefaultTlsVersions")

TLS12 = 0x800  # the TLS 1.2 bit of DefaultSecureProtocols and SecureProtocols
_PROTOCOL_BITS = {
    0x8: "SSL 2.0",
    0x20: "SSL 3.0",
    0x80: "TLS 1.0",
    0x200: "TLS 1.1",
    0x800: "TLS 1.2",
    0x2000: "TLS 1.3",
}

_VERSION_KEYS = (
    Key(
        CURRENT_VERSION,
        (
            "CurrentMajorVersionNumber",
            "CurrentMinorVersionNumber",
            "CurrentVersion",
            "CurrentBuildNumber",
            "UBR",
            "ProductName",
            "InstallationType",
            "DisplayVersion",
        ),
    ),
    Key(ENVIRONMENT, ("PROCESSOR_ARCHITECTURE",)),
)


@dataclass(frozen=True)
class Windows:
    major: int
    minor: int
    build: int
    name: str
    x64: bool  # 64-bit Windows keeps 32-bit programs' settings under WOW6432Node

    @property
    def too_old(self) -> bool:
        """Older than Windows 7 SP1 / Server 2008 R2 SP1 (build 7601)."""
        return (self.major, self.minor, self.build) < (6, 1, 7601)

    @property
    def legacy(self) -> bool:
        """Windows 7 SP1 / 2008 R2 SP1, Windows 8 / Server 2012: TLS 1.2 needs turning on."""
        return (self.major, self.minor) in {(6, 1), (6, 2)}

    def __str__(self) -> str:
        return f"{self.name} ({self.major}.{self.minor}, build {self.build})"


def windows(data: Data) -> Windows:
    """The Windows version from the registry (language-independent, unlike `ver`)."""
    values = key_values(data, CURRENT_VERSION)
    if not values or "CurrentBuildNumber" not in values:
        raise ReadError(f"no Windows version under {CURRENT_VERSION}")
    major, minor = (
        dword(values, "CurrentMajorVersionNumber"),
        dword(values, "CurrentMinorVersionNumber"),
    )
    if major is None or minor is None:  # before Windows 10: "6.1", "6.3"
        left, _, right = str(values.get("CurrentVersion", "0.0")).partition(".")
        major, minor = int(left or 0), int(right or 0)
    build = int(values["CurrentBuildNumber"])
    name = str(values.get("ProductName") or "Windows")
    if major == 10 and build >= 22000 and values.get("InstallationType") == "Client":
        name = name.replace("Windows 10", "Windows 11")  # Windows 11 kept the old name here
    arch = str((key_values(data, ENVIRONMENT) or {}).get("PROCESSOR_ARCHITECTURE", ""))
    return Windows(major, minor, build, name, arch.upper() in {"AMD64", "ARM64", "IA64"})


def protocols(mask: int | None) -> str:
    """A SecureProtocols-style bit mask, decoded."""
    if mask is None:
        return "not set (Windows default)"
    names = [name for bit, name in _PROTOCOL_BITS.items() if mask & bit]
    return f"{mask:#x} ({', '.join(names) or 'no protocol'})"


_UPDATE = (
    "Install the operating system's service packs and all Windows updates, then plan a move "
    "to a supported Windows: Microsoft 365 Apps do not support this one."
)
_SCHANNEL = (
    "Under HKLM\\SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\SCHANNEL\\Protocols\\"
    "TLS 1.2\\Client set the DWORDs Enabled = 1 and DisabledByDefault = 0 (or delete the "
    "values that turn TLS 1.2 off), from an elevated prompt after backing up the registry, "
    "then restart. If a Group Policy or hardening baseline set them, change it there."
)


@interpreter
def interpret_schannel(data: Data) -> Verdict:
    win = windows(data)
    client = key_values(data, SCHANNEL_CLIENT)
    enabled, off_by_default = dword(client, "Enabled"), dword(client, "DisabledByDefault")
    findings = []
    if win.too_old:
        detail = f"{win} predates TLS 1.2 support (Windows 7 SP1)"
        findings.append(fail(causes.OS_TOO_OLD, detail, _UPDATE))
    if enabled == 0:
        detail = "TLS 1.2 is disabled for client connections (Enabled = 0)"
        findings.append(fail(causes.TLS12_DISABLED, detail, _SCHANNEL))
    elif off_by_default:
        detail = (
            "TLS 1.2 is off by default for clients (DisabledByDefault = "
            f"{shown(off_by_default)}): programs that let Windows choose "
            "the protocol do not use it"
        )
        findings.append(warn(causes.TLS12_NOT_DEFAULT, detail, _SCHANNEL))
    elif off_by_default is None and (win.major, win.minor) == (6, 1) and not win.too_old:
        detail = (
            f"{win} leaves TLS 1.2 off by default for clients unless DisabledByDefault = 0 is set"
        )
        findings.append(warn(causes.TLS12_NOT_DEFAULT, detail, _SCHANNEL))
    how = "set explicitly" if client and (enabled or off_by_default == 0) else "Windows default"
    return judge(
        findings,
        f"TLS 1.2 is on for client connections on {win} ({how})",
        {
            "windows": str(win),
            "SCHANNEL TLS 1.2 Client Enabled": shown(enabled),
            "SCHANNEL TLS 1.2 Client DisabledByDefault": shown(off_by_default),
        },
    )


_WINHTTP = (
    "Install update KB3140245 (TLS 1.1/1.2 for WinHTTP), then set the DWORD "
    "DefaultSecureProtocols to 0xA00 (TLS 1.1 and 1.2; 0xA80 also keeps TLS 1.0) under "
    "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Internet Settings\\WinHttp and, on "
    "64-bit Windows, under the same path below SOFTWARE\\Wow6432Node; Microsoft's Easy Fix "
    "51044 linked from the checklist does this. Restart afterwards."
)


@interpreter
def interpret_winhttp(data: Data) -> Verdict:
    win = windows(data)
    findings, evidence = [], {"windows": str(win)}
    views = [("64-bit" if win.x64 else "native", WINHTTP)]
    if win.x64:
        views.append(("32-bit, WOW6432Node", WINHTTP_WOW))
    for view, path in views:
        value = dword(key_values(data, path), "DefaultSecureProtocols")
        evidence[f"WinHTTP DefaultSecureProtocols ({view})"] = protocols(value)
        if value is not None and not value & TLS12:
            detail = (
                f"WinHTTP ({view}) DefaultSecureProtocols = {protocols(value)} leaves out TLS 1.2"
            )
            findings.append(fail(causes.WINHTTP_TLS12_DISABLED, detail, _WINHTTP))
        elif value is None and win.legacy:
            detail = (
                f"WinHTTP ({view}) has no DefaultSecureProtocols: on "
                f"{win.name} it does not offer TLS 1.2 by default"
            )
            findings.append(fail(causes.WINHTTP_TLS12_DISABLED, detail, _WINHTTP))
    return judge(findings, f"WinHTTP, which activation uses, offers TLS 1.2 on {win}", evidence)


_INTERNET_OPTIONS = (
    "In Control Panel > Internet Options > Advanced, check 'Use TLS 1.2', select Apply and "
    "OK, then restart (the checklist's steps)."
)
_INTERNET_OPTIONS_POLICY = (
    "A Group Policy ('Turn off encryption support') sets this: ask whoever manages the "
    "policy to include TLS 1.2."
)


@interpreter
def interpret_internet_options(data: Data) -> Verdict:
    win = windows(data)
    found = {path: dword(key_values(data, path), "SecureProtocols") for path in INTERNET_SETTINGS}
    evidence = {"windows": str(win)} | {
        f"SecureProtocols {path}": protocols(value) for path, value in found.items()
    }
    source, value = next(((p, v) for p, v in found.items() if v is not None), ("", None))
    findings = []
    if value is not None and not value & TLS12:
        advice = _INTERNET_OPTIONS_POLICY if "Policies" in source else _INTERNET_OPTIONS
        detail = f"'Use TLS 1.2' is off in Internet Options ({protocols(value)}, from {source})"
        findings.append(fail(causes.INTERNET_OPTIONS_TLS12_DISABLED, detail, advice))
    elif value is None and win.legacy:
        detail = (
            f"Internet Options' protocols are not set: on {win.name} the "
            "default depends on the Internet Explorer version"
        )
        findings.append(warn(causes.INTERNET_OPTIONS_TLS12_UNSET, detail, _INTERNET_OPTIONS))
    how = f"from {source}" if source else "Windows default"
    return judge(findings, f"Internet Options allow TLS 1.2 ({how})", evidence)


_DOTNET = (
    "Set the DWORDs SchUseStrongCrypto = 1 and SystemDefaultTlsVersions = 1 under "
    "HKLM\\SOFTWARE\\Microsoft\\.NETFramework\\v4.0.30319 and v2.0.50727 (and their "
    "Wow6432Node twins on 64-bit Windows), then restart the programs. Office's activation "
    "itself does not use .NET; .NET tools such as Microsoft's Support and Recovery "
    "Assistant and PowerShell scripts do."
)


@interpreter
def interpret_dotnet(data: Data) -> Verdict:
    win = windows(data)
    findings, evidence = [], {"windows": str(win)}
    for path in DOTNET:
        if "Wow6432Node" in path and not win.x64:
            continue
        values = key_values(data, path)
        settings = {name: dword(values, name) for name in DOTNET_VALUES}
        evidence[path] = (
            "not installed"
            if values is None
            else ", ".join(f"{name} = {shown(v)}" for name, v in settings.items())
        )
        off = [name for name, v in settings.items() if v == 0]
        if off:
            detail = f"{' and '.join(off)} = 0 under {path}"
            findings.append(warn(causes.DOTNET_TLS12_NOT_DEFAULT, detail, _DOTNET))
        elif win.legacy and values is not None and "v4" in path and 1 not in settings.values():
            detail = (
                f"on {win.name}, .NET 4 programs built for older "
                f"versions do not use TLS 1.2 unless {path} sets "
                "SchUseStrongCrypto or SystemDefaultTlsVersions to 1"
            )
            findings.append(warn(causes.DOTNET_TLS12_NOT_DEFAULT, detail, _DOTNET))
    return judge(findings, ".NET Framework programs can use TLS 1.2", evidence)


CHECKS = (
    HostCheck(
        "tls12-schannel",
        "TLS 1.2 is enabled for client connections (SChannel)",
        registry_collector(*_VERSION_KEYS, Key(SCHANNEL_CLIENT, ("Enabled", "DisabledByDefault"))),
        interpret_schannel,
    ),
    HostCheck(
        "tls12-winhttp",
        "WinHTTP offers TLS 1.2 (DefaultSecureProtocols)",
        registry_collector(
            *_VERSION_KEYS,
            Key(WINHTTP, ("DefaultSecureProtocols",)),
            Key(WINHTTP_WOW, ("DefaultSecureProtocols",)),
        ),
        interpret_winhttp,
    ),
    HostCheck(
        "tls12-internet-options",
        "Internet Options allow TLS 1.2 (SecureProtocols)",
        registry_collector(
            *_VERSION_KEYS, *(Key(path, ("SecureProtocols",)) for path in INTERNET_SETTINGS)
        ),
        interpret_internet_options,
    ),
    HostCheck(
        "tls12-dotnet",
        ".NET Framework uses TLS 1.2 (strong crypto)",
        registry_collector(*_VERSION_KEYS, *(Key(path, DOTNET_VALUES) for path in DOTNET)),
        interpret_dotnet,
    ),
)
