"""The shipped profile against a healthy lab, as a user runs it: everything passes and
the HTML report (written under the rootdir by default) explains itself."""

from __future__ import annotations

import pytest

from tests.loopback_lab import NO_PROXY, REPO, TIMEOUT, Lab, SuiteRun, report_data
from tests.test_cli import pytest_run


@pytest.fixture(scope="module")
def healthy(lab: Lab) -> SuiteRun:
    return lab.run(None, "--domain=good.test", "--domain=absent.test", "--family=both")


def test_every_check_of_the_shipped_profile_passes(healthy: SuiteRun) -> None:
    outcomes = {name: case.outcome for name, case in healthy.cases.items()}
    assert set(outcomes.values()) == {"passed"}, outcomes
    kinds = {case.props["check"] for case in healthy.cases.values()}
    assert kinds == {"firewall", "tls", "crl", "ncsi_web", "ncsi_dns", "msoid"}
    assert len(outcomes) == 2 * 20 + 15 + 4 + 4 + 1 + 2  # firewall: IPv4 and IPv6
    assert healthy.exit_code == 0


def test_junit_properties_carry_the_facts(healthy: SuiteRun) -> None:
    props = healthy.cases["test_firewall[login.microsoftonline.com]"].props
    assert props["check"] == "firewall" and props["endpoint"] == "login.microsoftonline.com"
    assert props["outcome"] == "pass" and props["address"] == "198.18.1.1 port 443"
    assert float(props["probe_time"]) < TIMEOUT


def test_report_has_netcheck_columns_environment_and_evidence(healthy: SuiteRun) -> None:
    data = report_data(healthy.html)
    assert data["title"] == "netcheck report"
    env = data["environment"]
    assert env["Profile"].startswith("Microsoft 365 Apps activation")
    assert env["Resolver"] == "127.0.0.53:5353 only (--nameserver)"
    assert env["Proxy"] == NO_PROXY  # Lab.run removes proxy variables
    (row,) = healthy.rows("test_tls12[login.microsoftonline.com]")
    cells = "".join(row["resultsTableRow"])
    assert '<td class="col-check">tls</td>' in cells
    assert '<td class="col-endpoint">login.microsoftonline.com</td>' in cells
    evidence = row["extras"][0]["content"]
    assert "tls_version" in evidence and "TLSv1.2" in evidence


def test_failure_rows_show_layer_cause_and_what_to_do(lab: Lab) -> None:
    run = lab.run(
        '[profile]\nname = "one"\n[[endpoint]]\nurl = "https://refused.netcheck.test/"\n'
        'checks = ["firewall"]\n'
    )
    (row,) = run.rows("test_firewall[refused.netcheck.test]")
    cells = "".join(row["resultsTableRow"])
    assert '<td class="col-layer">tcp</td>' in cells
    assert '<td class="col-cause">connection_refused</td>' in cells
    assert "What to do:" in row["extras"][0]["content"]
    assert "What to do:" in row["log"]


def test_report_lands_under_rootdir_wherever_pytest_starts(lab: Lab) -> None:
    report = REPO / "reports" / "report.html"
    report.unlink(missing_ok=True)
    proc = pytest_run(
        "-q",
        "-m",
        "ncsi",
        f"--nameserver={lab.nameserver}",
        "--probe-timeout=2",
        cwd=REPO / "tests_network",
    )
    assert proc.returncode == 0, proc.stdout
    assert report.exists()
    tests = report_data(report.read_text())["tests"]
    assert any("test_ncsi_web[www.msftconnecttest.com/connecttest.txt]" in tid for tid in tests)
    report.unlink()
