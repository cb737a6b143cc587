"""Reading Windows, the parts that run anywhere: the bounded command runner, PowerShell's
output as Windows prints it (recorded under tests/data/host/powershell/), and run()."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import netcheck.host
from netcheck.host import CHECKS, HostCheck, Reading, causes, run
from netcheck.host.__main__ import main
from netcheck.host.base import Data, ReadError, Verdict, interpreter, judge
from netcheck.host.collect import Completed, parse_powershell, powershell_script, run_command

RECORDED = Path(__file__).parent / "data" / "host" / "powershell"
BY_ID = {check.id: check for check in CHECKS}


def recorded(stdout: str = "", stderr: str = "", returncode: int = 0) -> Completed:
    def read(name: str) -> bytes:
        return (RECORDED / name).read_bytes() if name else b""

    return Completed(returncode, read(stdout), read(stderr))


# --- the command runner -----------------------------------------------------------------


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_a_command_runs_to_its_end() -> None:
    done = run_command(python("import sys; print('out'); print('err', file=sys.stderr)"), 10)
    assert (done.returncode, done.stdout.strip(), done.stderr.strip()) == (0, b"out", b"err")


def test_a_missing_program_is_a_read_error() -> None:
    with pytest.raises(ReadError, match="cannot run no-such-program"):
        run_command(["/nonexistent/no-such-program"], 5)


def test_a_slow_command_is_stopped_at_its_deadline(tmp_path: Path) -> None:
    # It starts a grandchild holding the same output pipe: both must go, and at once.
    pid_file = tmp_path / "grandchild"
    code = (
        "import subprocess, sys, time;"
        f"p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']);"
        f"open({str(pid_file)!r}, 'w').write(str(p.pid)); time.sleep(60)"
    )
    start = time.monotonic()
    with pytest.raises(ReadError, match=r"did not answer within 1 s and was stopped"):
        run_command(python(code), 1)
    assert time.monotonic() - start < 4
    grandchild = int(pid_file.read_text())
    for _ in range(50):  # SIGKILL is delivered at once; reaping by init may lag a little
        if not _alive(grandchild):
            break
        time.sleep(0.05)
    assert not _alive(grandchild)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/stat")
    return not (status.exists() and status.read_text().split()[2] == "Z")  # zombie: dead


# --- PowerShell's output ------------------------------------------------------------------


def test_convertto_json_output_in_german_is_read_by_names_not_labels() -> None:
    [service] = parse_powershell(recorded("service-ncdautosetup-de.stdout"))
    assert service["DisplayName"].startswith("Automatische Einrichtung von Geräten")
    assert (service["State"], service["StartMode"]) == ("Stopped", "Manual")
    verdict = BY_ID["service-NcdAutoSetup"].interpret(Reading({"services": [service]}))
    assert (verdict.outcome, verdict.cause) == ("warn", causes.SERVICE_STOPPED)
    assert verdict.evidence["last exit code"] == "1077"
    assert "Geräten" in verdict.evidence["service"]


def test_japanese_names_and_numeric_enums() -> None:
    profiles = parse_powershell(recorded("profile-ja.stdout"))
    assert profiles[0]["InterfaceAlias"] == "イーサネット"
    verdict = BY_ID["ncsi-profile"].interpret(Reading({"profiles": profiles}))
    assert verdict.outcome == "pass"
    assert (
        verdict.evidence["profile イーサネット"]
        == "ネットワーク 2: IPv4 Internet, IPv6 NoTraffic, Private"
    )


def test_no_output_is_an_empty_list() -> None:
    assert parse_powershell(recorded("empty.stdout")) == []


def test_an_array_serialized_with_its_count_is_unwrapped() -> None:
    assert parse_powershell(recorded("appx-wrapped.stdout")) == [
        {"Name": "Microsoft.AAD.BrokerPlugin", "Status": "Ok"}
    ]


@pytest.mark.parametrize(
    ("stdout", "stderr", "returncode", "reason"),
    [
        ("", "powershell2.stderr", 3, "PowerShell 2.0 has no ConvertTo-Json"),
        (
            "",
            "convertto-json-missing-de.stderr",
            1,
            'exit code 1): Die Benennung "ConvertTo-Json" wurde nicht',
        ),
        (
            "",
            "access-denied-de.stderr",
            2,
            "access denied: run netcheck elevated (Der angeforderte Registrierungszugriff ist "
            "unzulässig.)",
        ),
        (
            "",
            "cmdlet-missing.stderr",
            2,
            "no such cmdlet on this Windows (The term 'Get-NetConnectionProfile' is not",
        ),
        ("clixml.stdout", "", 0, "output is not JSON: '#< CLIXML"),
    ],
    ids=[
        "powershell-2",
        "no-convertto-json-german",
        "access-denied-german",
        "no-cmdlet",
        "not-json",
    ],
)
def test_powershell_failures_say_why(
    stdout: str, stderr: str, returncode: int, reason: str
) -> None:
    with pytest.raises(ReadError) as caught:
        parse_powershell(recorded(stdout, stderr, returncode))
    assert reason in str(caught.value)


def test_the_script_guards_old_powershell_and_escapes_non_ascii() -> None:
    script = powershell_script("Get-Thing | Select-Object Name")
    assert "$result = @(& { Get-Thing | Select-Object Name })" in script
    assert "$PSVersionTable.PSVersion.Major -lt 3" in script
    assert r"'[^\x00-\x7f]'" in script and r"'\u{0:x4}'" in script


# --- run(): bounded, never raises -----------------------------------------------------------


def check_with(
    collect: Callable[[float], Reading], interpret: Callable[[Reading], Verdict] | None = None
) -> HostCheck:
    @interpreter
    def passes(data: Data) -> Verdict:
        return judge([], f"read {dict(data)}", {})

    return HostCheck("fake", "a fake check", collect, interpret or passes)


def test_run_reads_and_judges() -> None:
    verdict = run(check_with(lambda timeout: Reading({"x": 1})), 1)
    assert (verdict.outcome, verdict.detail) == ("pass", "read {'x': 1}")


def test_a_slow_command_in_a_collector_becomes_unreadable() -> None:
    def collect(timeout: float) -> Reading:
        run_command(python("import time; time.sleep(30)"), timeout)
        return Reading({})

    start = time.monotonic()
    verdict = run(check_with(collect), 0.5)
    assert time.monotonic() - start < 4
    assert (verdict.outcome, verdict.cause) == ("unreadable", causes.UNREADABLE)
    assert "did not answer within 0.5 s" in verdict.detail


def test_a_collector_stuck_elsewhere_is_left_behind(monkeypatch: pytest.MonkeyPatch) -> None:
    def stuck(timeout: float) -> Reading:
        time.sleep(30)  # a read that ignores its deadline
        return Reading()

    monkeypatch.setattr(netcheck.host, "GRACE", 0.2)
    start = time.monotonic()
    verdict = run(check_with(stuck), 0.3)
    assert time.monotonic() - start < 2
    assert verdict.detail == "could not read: reading took longer than 0.3 s"


@pytest.mark.parametrize(
    ("error", "detail"),
    [
        (ReadError("HKLM\\X: access denied"), "could not read: HKLM\\X: access denied"),
        (PermissionError(13, "Permission denied"), "could not read: [Errno 13] Permission denied"),
        (KeyError("x"), "could not read: netcheck failed while reading: KeyError: 'x'"),
    ],
)
def test_a_collector_that_fails_says_why(error: Exception, detail: str) -> None:
    def collect(timeout: float) -> Reading:
        raise error

    verdict = run(check_with(collect), 1)
    assert (verdict.outcome, verdict.detail) == ("unreadable", detail)


def test_an_interpreter_bug_is_reported_not_raised() -> None:
    def broken(reading: Reading) -> Verdict:
        raise ZeroDivisionError("division by zero")

    verdict = run(check_with(lambda timeout: Reading({"x": 1}), broken), 1)
    assert (verdict.outcome, verdict.cause) == ("unreadable", causes.CHECK_ERROR)
    assert "ZeroDivisionError" in verdict.detail and '"x": 1' in verdict.evidence["reading"]


@pytest.mark.skipif(sys.platform == "win32", reason="the registry exists on Windows")
def test_real_checks_off_windows_are_unreadable_not_errors() -> None:
    verdict = run(BY_ID["tls12-schannel"], 1)
    assert (verdict.outcome, verdict.cause) == ("unreadable", causes.UNREADABLE)
    assert "winreg" in verdict.detail


def test_a_reading_survives_its_json_form() -> None:
    reading = Reading({"keys": {"HKLM\\Ä": {"values": {"n": 1}}}}, "")
    assert Reading.from_json(reading.to_json()) == reading


@pytest.mark.skipif(sys.platform == "win32", reason="it runs on Windows")
def test_the_command_line_refuses_to_run_off_windows(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--record", "readings"])
    assert exited.value.code == 2
    assert "run this on Windows" in capsys.readouterr().err


# --- DisabledComponents beside a network IPv6 verdict --------------------------------------


def test_an_ipv6_verdict_says_how_windows_has_ipv6_set_up(monkeypatch: pytest.MonkeyPatch) -> None:
    from netcheck.host import ipv6

    assert ipv6.this_machine() == ""  # off Windows: nothing to add
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setattr(ipv6, "read_key", lambda key: {"values": {"DisabledComponents": 0x20}})
    assert ipv6.this_machine() == (
        "; this machine: DisabledComponents 0x20: IPv4 preferred over IPv6"
    )

    def denied(key: object) -> None:
        raise ReadError("access denied")

    monkeypatch.setattr(ipv6, "read_key", denied)
    assert ipv6.this_machine() == ""  # the verdict stands without it
