"""The suite's command line: bad options and profiles stop pytest with exit code 4 and
one line, never a traceback; a good run reports its settings and writes the HTML report."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.loopback_lab import REPO


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
    (["--proxy=socks5://user:hunter2@p.example:1080"], "--proxy: only http:// proxies"),
    (["--proxy=http://user:hunter2@p.example"], "--proxy: expected http://[user:pass@]host:port"),
    (["--ca-bundle=/nonexistent.pem"], "--ca-bundle: /nonexistent.pem: no such file"),
    (["--ca-bundle=pytest.ini"], "--ca-bundle pytest.ini: not a PEM CA certificate"),
    (["--domain=not a domain"], "--domain: 'not a domain' is not a valid host name"),
    (["--endpoints=missing.toml"], "missing.toml: no such file"),
]


@pytest.mark.parametrize(("args", "message"), BAD_OPTIONS, ids=[a[0][0] for a in BAD_OPTIONS])
def test_bad_option_is_a_usage_error(args: list[str], message: str) -> None:
    proc = pytest_run(*args, "--collect-only", "-q")
    assert proc.returncode == 4
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith(f"ERROR: {message}")
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
        "probe_host, skip)"
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
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["netcheck.plugin"]\n')
    (tmp_path / "endpoints.toml").write_text('[profile]\nname = "x"\n')
    proc = pytest_run(cwd=tmp_path)
    assert proc.returncode == 4 and "--probe-timeout: must be between" in proc.stderr
