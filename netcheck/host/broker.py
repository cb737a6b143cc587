"""The Microsoft.AAD.BrokerPlugin package, which signs Office in, and its token caches.

`Get-AppxPackage` lists the packages registered for this user: the plug-in must be there,
with status Ok and its manifest in place. The TokenBroker Accounts folders the checklist
empties when sign-in still fails are shown (file count and size), never touched.
"""

from __future__ import annotations

from netcheck.host import causes
from netcheck.host.base import (
    Data,
    HostCheck,
    Reading,
    Verdict,
    fail,
    folder_text,
    interpreter,
    judge,
)
from netcheck.host.collect import folder_summary, powershell

PACKAGE = "Microsoft.AAD.BrokerPlugin"
FAMILY = "Microsoft.AAD.BrokerPlugin_cw5n1h2txyewy"
ACCOUNT_FOLDERS = (
    rf"%LOCALAPPDATA%\Packages\{FAMILY}\AC\TokenBroker\Accounts",
    r"%LOCALAPPDATA%\Packages\Microsoft.Windows.CloudExperienceHost_cw5n1h2txyewy"
    r"\AC\TokenBroker\Accounts",
)
# Status is an enum: "$(...)" gives its name (Ok, Modified, Tampered...), as Version's text.
_PACKAGES = (
    f"Get-AppxPackage -Name {PACKAGE} | Select-Object Name, PackageFullName, "
    "PackageFamilyName, InstallLocation, @{n='Version'; e={\"$($_.Version)\"}}, "
    "@{n='Status'; e={\"$($_.Status)\"}}, "
    "@{n='ManifestExists'; e={[bool]($_.InstallLocation -and "
    "(Test-Path -LiteralPath (Join-Path $_.InstallLocation 'AppxManifest.xml')))}}"
)


def collect(timeout: float) -> Reading:
    return Reading(
        {
            "packages": powershell(_PACKAGES, timeout),
            "folders": {path: folder_summary(path) for path in ACCOUNT_FOLDERS},
        }
    )


_REGISTER = (
    "Register the plug-in again for this user, in a normal (not elevated) PowerShell: "
    f'`Add-AppxPackage -Register "$env:windir\\SystemApps\\{FAMILY}\\Appxmanifest.xml" '
    "-DisableDevelopmentMode -ForceApplicationShutdown`, then sign in to Office again. "
    "If it still fails: antivirus, proxy or firewall software may be blocking the plug-in "
    "(allow it, or test with them paused, VPN included); as the checklist's last resort, "
    "delete the files in the TokenBroker Accounts folders shown here, restart, and sign in."
)


@interpreter
def interpret(data: Data) -> Verdict:
    evidence = {path: folder_text(summary) for path, summary in data["folders"].items()}
    packages = [p for p in data.get("packages") or [] if isinstance(p, dict) and p.get("Name")]
    if not packages:
        return judge(
            [
                fail(
                    causes.BROKER_MISSING,
                    f"{PACKAGE} is not registered for this user",
                    _REGISTER,
                )
            ],
            "",
            evidence,
        )
    pkg = packages[0]
    evidence |= {
        "package": str(pkg.get("PackageFullName")),
        "install location": str(pkg.get("InstallLocation")),
        "status": str(pkg.get("Status")),
    }
    findings = []
    if pkg.get("Status") != "Ok":
        detail = f"{PACKAGE} is registered but its status is {pkg.get('Status')}"
        findings.append(fail(causes.BROKER_DAMAGED, detail, _REGISTER))
    if pkg.get("ManifestExists") is False:
        detail = f"{PACKAGE}'s manifest is missing from {pkg.get('InstallLocation')}"
        findings.append(fail(causes.BROKER_DAMAGED, detail, _REGISTER))
    return judge(findings, f"{PACKAGE} {pkg.get('Version')} is registered and Ok", evidence)


CHECKS = (
    HostCheck(
        "broker-plugin", f"{PACKAGE} is installed and registered for this user", collect, interpret
    ),
)
