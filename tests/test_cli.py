"""The suite's command line: bad options and profiles stop pytest with exit code 4 and
one line, never a traceback; a good run reports its settings and writes the HTML report."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from netcheck.__main__ import main
from tests.loopback_lab import REPO
from tests.test_profile import BAD, HEAD


def pytest_run(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", *args], cwd=cwd, capture_output=True, text=True, timeout=60
    )


BAD_OPTIONS = [
    (["--probe-timeout=0"], "--probe-timeout: must be between 0 and 600 s, not 0"),
    (["--probe-timeout=-3"], "--probe-timeout: must be between 0 and 600 s, not -3"),
    (["--probe-timeout=fast"], "--probe-timeout: 'fast' is not a number"),
    (["--nameserver=dns.example"], "--nameserver: 'dns.example' is not an IP address"),
    (["--nameserver=10.0.0.1:99999"], "--nameserver: '10.0.0.1:99999': bad port"),
    (["--nameserver=10.0.0.1:"], "--nameserver: '10.0.0.1:': bad port ''"),
    (["--proxy=socks5://user:hunter2@p.example:1080"], "--proxy: only http:// proxies"),
    (["--proxy=https://user:hunter2@p.example:3128"], "--proxy: only http:// proxies"),
    (["--proxy=http://user:hunter2@p.example"], "--proxy: expected http://[user:pass@]host:port"),
    (["--proxy=http://user:hunter2@:3128"], "--proxy: expected http://[user:pass@]host:port"),
    (["--proxy=http://user:hunter2@p.example:port"], "--proxy: bad port"),
    (["--proxy=http://user:hunter2@[::1:3128"], "--proxy: Invalid IPv6 URL"),
    (["--ca-bundle=/nonexistent.pem"], "--ca-bundle: /nonexistent.pem: no such file"),
    (["--ca-bundle=pytest.ini"], "--ca-bundle pytest.ini: not a PEM CA certificate"),
    (["--domain=not a domain"], "--domain: 'not a domain' is not a valid host name"),
    (["--endpoints=missing.toml"], "missing.toml: no such file"),
    (["--endpoints=tests"], "tests: is a directory, not a profile file"),
    (["--site=<b>hq"], "--site: site name '<b>hq': use letters, digits, '.', '_' and '-'"),
]
# The malformed profiles the loader tests (tests/test_profile.py), this time through pytest.
PROFILES = [
    "toml syntax",
    "empty file",
    "unknown key",
    "wrong type",
    "duplicate id",
    "url without host",
    "unsupported scheme",
    "host with spaces",
    "host over 253 chars",
    "ip instead of name",
    "name instead of ip",
    "credentials in a url",
]


def bad_inputs(workdir: Path) -> dict[str, tuple[list[str], str, str]]:
    """id -> (pytest arguments, how stderr's one line starts, what it says)."""
    cases = {args[0]: (args, f"ERROR: {message}", message) for args, message in BAD_OPTIONS}
    profiles = {name: (text, message) for name, text, message in BAD}
    profiles["non-UTF-8 bytes"] = (HEAD.encode() + b"# caf\xe9\n", "not UTF-8 text (byte 26)")
    for name in [*PROFILES, "non-UTF-8 bytes"]:
        text, message = profiles[name]
        path = workdir / f"{name.replace(' ', '-')}.toml"
        (path.write_bytes if isinstance(text, bytes) else path.write_text)(text)
        cases[name] = ([f"--endpoints={path}"], f"ERROR: {path}: ", message)
    return cases


Outcomes = dict[str, tuple[str, str, subprocess.CompletedProcess[str]]]


@pytest.fixture(scope="module")
def usage_errors(tmp_path_factory: pytest.TempPathFactory) -> Outcomes:
    """Every bad input through pytest, concurrently: id -> (start, message, process)."""
    cases = bad_inputs(tmp_path_factory.mktemp("bad"))
    with ThreadPoolExecutor(8) as pool:
        procs = pool.map(lambda case: pytest_run(*case[0], "--collect-only", "-q"), cases.values())
        return {
            name: (start, message, proc)
            for (name, (_, start, message)), proc in zip(cases.items(), procs, strict=True)
        }


@pytest.mark.parametrize("case", [a[0] for a, _ in BAD_OPTIONS] + [*PROFILES, "non-UTF-8 bytes"])
def test_bad_input_is_one_line_and_exit_code_4(usage_errors: Outcomes, case: str) -> None:
    start, message, proc = usage_errors[case]
    assert proc.returncode == 4, proc.stdout + proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith(start) and message in line, line
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "hunter2" not in proc.stderr + proc.stdout


def test_bad_profile_is_a_usage_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[profile]\nname = "x"\n[[endpoint]]\nurl = "https://a.example/"\nport = 8\n')
    proc = pytest_run(f"--endpoints={bad}")
    assert proc.returncode == 4
    assert proc.stderr.strip() == (
        f"ERROR: {bad}: endpoint[0] (https://a.example/): unknown key 'port' "
        "(allowed: id, category, required, notes, url, checks, family, service_area, "
        "probe_host, skip, expected_roots, interception)"
    )


def test_collect_only_lists_ids_with_host_names_and_markers_select() -> None:
    proc = pytest_run("--collect-only", "-q", "-m", "crl")
    ids = [line for line in proc.stdout.splitlines() if "::" in line]
    crls = [
        ("crl", "MicrosoftProductSecureServer"),
        ("crl", "MicrosoftRootAuthority"),
        ("crl", "MicrosoftProductSecureCommunicationsPCA"),
        ("www", "MicrosoftProductSecureCommunicationsPCA"),
    ]
    assert ids == [
        f"tests_network/test_crl.py::test_crl[{host}.microsoft.com/pki/crl/products/{name}.crl]"
        for host, name in crls
    ]
    selected = pytest_run("--collect-only", "-q", "-k", "login.microsoftonline.com")
    assert "2/45 tests collected (43 deselected)" in selected.stdout


def test_no_domain_skips_msoid_with_instructions(tmp_path: Path) -> None:
    proc = pytest_run("-m", "dns", "-rs", f"--html={tmp_path / 'r.html'}")
    assert proc.returncode == 0
    assert "no custom domain given: add --domain=contoso.com" in proc.stdout


def test_options_work_from_ini_addopts(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = --probe-timeout=0\n")
    (tmp_path / "endpoints.toml").write_text('[profile]\nname = "x"\n')
    proc = pytest_run(cwd=tmp_path)
    assert proc.returncode == 4 and "--probe-timeout: must be between" in proc.stderr


def test_a_network_run_never_imports_the_self_tests_conftest() -> None:
    proc = pytest_run("--collect-only", "-q", "--trace-config")
    assert f"from '{REPO / 'conftest.py'}'" in proc.stdout
    assert str(REPO / "tests" / "conftest.py") not in proc.stdout


def test_netcheck_help_lists_its_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["--help"])
    assert raised.value.code == 0
    assert {"run", "init", "import-m365"} <= set(capsys.readouterr().out.split())


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "the following arguments are required: command"),
        (["bogus"], "argument command: invalid choice: 'bogus'"),
        (["init"], "the following arguments are required: DIR"),
        (["init", "a", "b"], "unrecognized arguments: b"),
    ],
)
def test_a_bad_command_line_is_one_line_and_exit_code_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as raised:
        main(argv)
    assert raised.value.code == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"error: {message}") and line.endswith("(netcheck --help)")
