"""The suite's command line: bad options, environment and input files stop pytest with exit
code 4 and one line, never a traceback; a good run reports its settings and writes the HTML
report. Messages are asserted in-process (the options' here; the files' in test_profile,
test_m365, test_baseline and test_inputs_files); one run per kind of input proves the wiring."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from netcheck.__main__ import main
from netcheck.plugin import settings
from netcheck.results import SCHEMA, VERSION
from tests.loopback_lab import REPO
from tests.test_profile import HEAD

pytest_plugins = ("pytester",)


def pytest_run(
    *args: str, cwd: Path = REPO, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
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
    (["--proxy=http://user:hunter2@p.example"], "--proxy: give the proxy's port"),
    (["--proxy=http://user:hunter2@:3128"], "--proxy: expected http://[user:password@]host:port"),
    (["--proxy=http://user:hunter2@p.example:port"], "--proxy: the proxy's port must be 1-65535"),
    (["--proxy=http://user:hunter2@[::1:3128"], "--proxy: give the proxy's port"),
    (["--ca-bundle=/nonexistent.pem"], "--ca-bundle: /nonexistent.pem: no such file"),
    ([f"--ca-bundle={REPO}"], f"--ca-bundle: {REPO}: is a directory, not a PEM file"),
    ([f"--ca-bundle={REPO / 'pytest.ini'}"], f"--ca-bundle: {REPO / 'pytest.ini'}: not a PEM CA"),
    (["--domain=not a domain"], "--domain: 'not a domain' is not a valid host name"),
    (["--family=ipv5"], "--family: 'ipv5' is not one of ipv4, ipv6, both"),
    (["--tls-interception=ignore"], "--tls-interception: 'ignore' is not one of fail, warn"),
    (["--tenant=cn"], "--tenant: 'cn' is not one of worldwide, 21vianet"),
    (["--fail-on=all"], "--fail-on: 'all' is not one of required, any, new-required-failures"),
    (["--endpoints=/missing.toml"], "/missing.toml: no such file"),
    (["--site=<b>hq"], "--site: site name '<b>hq': use letters, digits, '.', '_' and '-'"),
]
# The environment gets the same care: a CA file that is not there is named, not ignored.
BAD_ENVIRONMENT = [
    (
        "REQUESTS_CA_BUNDLE",
        "/nonexistent.pem",
        "REQUESTS_CA_BUNDLE: /nonexistent.pem: no such file",
    ),
    ("SSL_CERT_FILE", "/nonexistent.pem", "SSL_CERT_FILE: /nonexistent.pem: no such file"),
    ("REQUESTS_CA_BUNDLE", "/", "REQUESTS_CA_BUNDLE: /: is a directory, not a PEM file"),
    ("SSL_CERT_FILE", str(REPO / "pytest.ini"), "SSL_CERT_FILE: "),
    ("NETCHECK_FAMILY", "ipv5", "NETCHECK_FAMILY: 'ipv5' is not one of ipv4, ipv6, both"),
]
CASES = [(args, {}, message) for args, message in BAD_OPTIONS] + [
    ([], {name: value}, message) for name, value, message in BAD_ENVIRONMENT
]


@pytest.mark.parametrize(
    ("args", "env", "message"),
    CASES,
    ids=[" ".join(c[0]) or "=".join(*c[1].items()) for c in CASES],
)
def test_bad_option_or_environment_is_one_usage_error(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    env: dict[str, str],
    message: str,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    plugins = ("-p", "netcheck", "-p", "no:html", "-p", "no:metadata", "-p", "no:xdist")
    config = pytester.parseconfig(*plugins, f"--endpoints={REPO / 'endpoints.toml'}", *args)
    with pytest.raises(pytest.UsageError) as err:
        settings.read(config)
    assert str(err.value).startswith(message) and "\n" not in str(err.value)
    assert "hunter2" not in str(err.value)


def wiring(workdir: Path) -> dict[str, tuple[list[str], dict[str, str], str]]:
    """One bad input of each kind, through pytest: id -> (arguments, environment, stderr)."""
    deep, m365, base = workdir / "deep.toml", workdir / "null.json", workdir / "base.json"
    deep.write_text(HEAD + "x = " + "[" * 5000 + "]" * 5000)
    m365.write_text('[{"id": 1, "urls": [null]}]')
    base.write_text(
        json.dumps(
            {"schema": SCHEMA, "version": VERSION, "results": [{"check": "x", "endpoint": None}]}
        )
    )
    return {
        "option": (["--family=ipv5"], {}, "--family: 'ipv5' is not one of ipv4, ipv6, both"),
        "proxy": (
            ["--proxy=http://user:hunter2@p.example"],
            {},
            "--proxy: give the proxy's port: http://p.example:PORT",
        ),
        "environment": (
            [],
            {"REQUESTS_CA_BUNDLE": "/nonexistent.pem"},
            "REQUESTS_CA_BUNDLE: /nonexistent.pem: no such file",
        ),
        "profile": ([f"--endpoints={deep}"], {}, f"{deep}: TOML nested deeper than 32 levels"),
        "m365 json": (
            [f"--endpoints={m365}"],
            {},
            f"{m365}: endpoint set [0] (id 1): key 'urls': items must be strings, not null",
        ),
        "baseline": (
            [f"--baseline={base}"],
            {},
            f"--baseline: {base}: results[0]: key 'outcome' is missing",
        ),
    }


Runs = dict[str, tuple[str, subprocess.CompletedProcess[str]]]


@pytest.fixture(scope="module")
def usage_errors(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    """Each wiring case through pytest, concurrently: id -> (expected line, process)."""
    cases = wiring(tmp_path_factory.mktemp("bad"))

    def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        return pytest_run(*args, "--collect-only", "-q", env=env)

    with ThreadPoolExecutor(len(cases)) as pool:
        procs = pool.map(lambda case: run(*case[:2]), cases.values())
        return {
            name: (f"ERROR: {case[2]}", proc)
            for (name, case), proc in zip(cases.items(), procs, strict=True)
        }


@pytest.mark.parametrize(
    "case", ["option", "proxy", "environment", "profile", "m365 json", "baseline"]
)
def test_bad_input_is_one_line_and_exit_code_4(usage_errors: Runs, case: str) -> None:
    line, proc = usage_errors[case]
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert proc.stderr.strip().splitlines() == [line]
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "hunter2" not in proc.stderr + proc.stdout


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
    assert "2/62 tests collected (60 deselected)" in selected.stdout


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
