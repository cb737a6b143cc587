"""The services the activation checklist wants running.

Read through WMI's Win32_Service, whose State ("Running", "Stopped", ...) and StartMode
("Auto", "Manual", "Disabled") are the same words in every display language; the display
name (translated) is only shown. Network Location Awareness, the Network List Service and
the Event Log must run; Network Connected Devices Auto-Setup is a Manual (trigger-start)
service that Windows starts when it needs it, so it being stopped is only a warning.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from netcheck.host import causes
from netcheck.host.base import Data, HostCheck, Reading, Verdict, fail, interpreter, judge, warn
from netcheck.host.collect import powershell


@dataclass(frozen=True)
class Service:
    name: str
    label: str  # the English display name, as the checklist names it
    default_start: str  # Windows' default start type, as Win32_Service.StartMode says it
    must_run: bool


SERVICES = (
    Service("NcdAutoSetup", "Network Connected Devices Auto-Setup", "Manual", must_run=False),
    Service("netprofm", "Network List Service", "Manual", must_run=True),
    Service("NlaSvc", "Network Location Awareness", "Auto", must_run=True),
    Service("EventLog", "Windows Event Log", "Auto", must_run=True),
)

_SFC = (
    "If it will not start, run `sfc /scannow` in an elevated Command Prompt, restart when "
    "it completes, and try again."
)
_REPAIR = (
    "Windows is missing one of its own services: run `sfc /scannow` and then `DISM /Online "
    "/Cleanup-Image /RestoreHealth` in an elevated prompt, and restart."
)
_STARTUP = {"Auto": "Automatic", "Manual": "Manual"}  # StartMode's words, Set-Service's


def _collector(service: Service) -> Callable[[float], Reading]:
    body = (
        f"Get-CimInstance -ClassName Win32_Service -Filter \"Name='{service.name}'\" | "
        "Select-Object Name, DisplayName, State, StartMode, ExitCode"
    )

    def collect(timeout: float) -> Reading:
        return Reading({"services": powershell(body, timeout)})

    return collect


def _interpreter(service: Service) -> Callable[[Reading], Verdict]:
    start_it = (
        f"Start it: in services.msc right-click '{service.label}' and select Start, or run "
        f"`Start-Service {service.name}` in an elevated PowerShell. {_SFC}"
    )
    default = _STARTUP[service.default_start]
    enable_it = (
        f"Set its startup type back to Windows' default ({default}) in services.msc, or "
        f"`Set-Service {service.name} -StartupType {default}` elevated, then start it; if a "
        f"Group Policy disables it, ask whoever manages the policy. {_SFC}"
    )

    @interpreter
    def interpret(data: Data) -> Verdict:
        found = [s for s in data.get("services") or [] if s and s.get("Name")]
        if not found:
            detail = f"the service {service.name} ({service.label}) is not installed"
            return judge([fail(causes.SERVICE_MISSING, detail, _REPAIR)], "", {})
        svc = found[0]
        state, start = str(svc.get("State") or "Unknown"), str(svc.get("StartMode") or "Unknown")
        evidence = {
            "service": f"{svc['Name']} ({svc.get('DisplayName') or service.label})",
            "state": state,
            "start type": start,
        }
        if svc.get("ExitCode"):
            evidence["last exit code"] = str(svc["ExitCode"])
        what = f"{service.label} ({service.name}) is {state.lower()}, start type {start}"
        findings = []
        if state == "Running":
            pass
        elif start == "Disabled":
            findings.append(fail(causes.SERVICE_DISABLED, what, enable_it))
        elif state == "Stopped" and service.must_run:
            findings.append(fail(causes.SERVICE_STOPPED, what, start_it))
        elif state == "Stopped":
            detail = f"{what}: Windows starts it on demand, but the checklist wants it running"
            findings.append(warn(causes.SERVICE_STOPPED, detail, start_it))
        else:  # Start Pending, Stop Pending, Paused...
            advice = f"Wait a minute and check again. {start_it}"
            findings.append(warn(causes.SERVICE_PENDING, what, advice))
        return judge(findings, what, evidence)

    return interpret


CHECKS = tuple(
    HostCheck(
        f"service-{s.name}", f"{s.label} ({s.name}) is running", _collector(s), _interpreter(s)
    )
    for s in SERVICES
)
