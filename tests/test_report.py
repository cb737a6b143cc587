"""The shipped profile against a healthy lab, as a user runs it: everything passes and
the HTML report (written under the rootdir by default) explains itself; a failing run
reads as findings; the outputs are replaced whole, kept when nothing ran, and a failed
write is one line that leaves the exit status alone."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jsonschema
import pytest

from tests.loopback_lab import NO_PROXY, REPO, TIMEOUT, Lab, SuiteRun, report_data
from tests.test_cli import pytest_run

SCHEMA = json.loads((REPO / "docs" / "results.schema.json").read_text())
ONE_REFUSED = (
    '[profile]\nname = "one"\n[[endpoint]]\nurl = "https://refused.netcheck.test/"\n'
    'checks = ["firewall"]\n[[endpoint]]\nurl = "https://ok.netcheck.test/"\n'
    'checks = ["firewall"]\n'
)
ONE_OK = '[profile]\nname = "ok"\n[[endpoint]]\nurl = "https://ok.netcheck.test/"\n'


@pytest.fixture(scope="module")
def healthy(lab: Lab) -> SuiteRun:
    return lab.run(None, "--domain=good.test", "--domain=absent.test", "--family=both")


@pytest.fixture(scope="module")
def refused(lab: Lab) -> SuiteRun:
    return lab.run(ONE_REFUSED)


def test_every_check_of_the_shipped_profile_passes(healthy: SuiteRun) -> None:
    outcomes = {name: case.outcome for name, case in healthy.cases.items()}
    assert set(outcomes.values()) == {"passed"}, outcomes
    kinds = {case.props["check"] for case in healthy.cases.values()}
    assert kinds == {"firewall", "tls", "crl", "ncsi_web", "ncsi_dns", "msoid"}
    assert len(outcomes) == 2 * 20 + 15 + 4 + 4 + 1 + 2  # firewall: IPv4 and IPv6
    assert healthy.exit_code == 0
    assert "Yes: nothing blocks Microsoft 365 Apps activation from here" in healthy.output


def test_junit_properties_carry_the_facts(healthy: SuiteRun) -> None:
    props = healthy.cases["test_firewall[login.microsoftonline.com]"].props
    assert props["check"] == "firewall" and props["endpoint"] == "login.microsoftonline.com"
    assert props["outcome"] == "pass" and props["address"] == "198.18.1.1 port 443"
    assert props["tried"] == "198.18.1.1:443 connected" and "finding" not in props
    assert float(props["probe_time"]) < TIMEOUT


def test_results_file_follows_its_json_schema(healthy: SuiteRun, refused: SuiteRun) -> None:
    for run in (healthy, refused):
        jsonschema.validate(run.results, SCHEMA)
    data = healthy.results
    assert data["netcheck"] == "0.1.0" and data["host"]["name"]
    assert data["verdict"]["ok"] and data["findings"] == []
    (certificate,) = {r["certificate"] for r in data["results"] if r["certificate"]}
    assert list(data["certificates"]) == [certificate]  # the lab's one certificate, once
    assert "login.microsoftonline.com" in data["certificates"][certificate]["san"]
    assert not any("certificate_san" in r["evidence"] for r in data["results"])


def test_report_has_netcheck_columns_environment_and_evidence(healthy: SuiteRun) -> None:
    data = report_data(healthy.html)
    assert data["title"] == "netcheck report"
    assert data["renderCollapsed"] == ["all"]
    env = data["environment"]
    assert env["Profile"].startswith("Microsoft 365 Apps activation")
    assert env["Resolver"] == "127.0.0.53 only (--nameserver)"
    assert env["Proxy"] == NO_PROXY  # Lab.run removes proxy variables
    (row,) = healthy.rows("test_tls12[login.microsoftonline.com]")
    cells = "".join(row["resultsTableRow"])
    assert '<td class="col-check">tls</td>' in cells
    assert ">test_tls12[login.microsoftonline.com]</td>" in cells
    assert "col-duration" not in cells and "col-links" not in cells
    evidence = row["extras"][0]["content"]
    assert "tls_version" in evidence and "TLSv1.2" in evidence
    assert "certificate_san" not in evidence and "What to do" not in evidence


def test_failure_rows_show_what_was_tried_and_what_to_do_once(refused: SuiteRun) -> None:
    (row,) = refused.rows("test_firewall[refused.netcheck.test]")
    cells = "".join(row["resultsTableRow"])
    assert '<td class="col-layer">tcp</td>' in cells
    assert '<td class="col-cause">connection_refused</td>' in cells
    assert '<td class="col-address">198.18.2.1:443 connection_refused</td>' in cells
    assert row["extras"][0]["content"].count("What to do:") == 1
    assert "What to do" not in row["log"]  # the log would only repeat the evidence


def test_a_failing_run_reads_as_findings(refused: SuiteRun) -> None:
    assert refused.exit_code == 1
    out = refused.output
    assert "No: one is blocked from here by 1 problem (1 failed check)." in out
    assert "F1 [blocking] tcp / connection_refused: refused.netcheck.test:443" in out
    assert "tried: 198.18.2.1:443 connection_refused" in out
    assert "= FAILURES =" not in out and "Traceback" not in out and "assert " not in out
    assert refused.cases["test_firewall[refused.netcheck.test]"].props["finding"] == "F1"
    (finding,) = refused.results["findings"]
    (record,) = [r for r in refused.results["results"] if r["finding"]]
    assert finding["checks"] == [record["id"]] and record["endpoint"] == "refused.netcheck.test"
    assert '<p class="nc-verdict nc-bad">No: one is blocked' in refused.html


def test_tb_given_explicitly_still_shows_the_failure_blocks(lab: Lab) -> None:
    run = lab.run(ONE_REFUSED, "--tb=short")
    assert "= FAILURES =" in run.output and "What to do:" in run.output


def test_runs_that_test_nothing_keep_the_last_report(tmp_path: Path) -> None:
    html, results = tmp_path / "report.html", tmp_path / "results.json"
    html.write_text("last report")
    results.write_text("last results")
    broken = tmp_path / "test_broken.py"
    broken.write_text("import no_such_module\n")
    outputs = (f"--html={html}", f"--results={results}", "-q")
    with ThreadPoolExecutor(3) as pool:
        collect_only, none_selected, collect_error = pool.map(
            lambda args: pytest_run(*outputs, *args),
            [
                ("--collect-only",),
                ("-k", "no-such-check"),
                (str(broken), f"--endpoints={REPO / 'endpoints.toml'}"),
            ],
        )
    for proc in (collect_only, none_selected, collect_error):
        assert f"netcheck: no check ran: {html} kept as it was" in proc.stdout, proc.stdout
    assert (collect_only.returncode, none_selected.returncode) == (0, 5)
    # pytest's failure blocks give way to the findings, not its collection errors
    assert "ModuleNotFoundError: No module named 'no_such_module'" in collect_error.stdout
    assert html.read_text() == "last report" and results.read_text() == "last results"
    assert not list(tmp_path.glob(".*.tmp"))  # nothing half-written left behind


def test_a_failed_write_is_one_line_and_keeps_the_exit_status(lab: Lab, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    html_ok = tmp_path / "ok" / "report.html"
    with ThreadPoolExecutor(2) as pool:
        results_fails, html_fails = pool.map(
            lambda args: lab.run(ONE_OK, *args),
            [
                (f"--results={tmp_path}", f"--html={html_ok}"),  # a directory
                (f"--html={blocker}/report.html", f"--results={tmp_path}/r.json"),
            ],
        )
    assert results_fails.exit_code == 0 and "Traceback" not in results_fails.output
    assert f"netcheck: could not write the results file {tmp_path}:" in results_fails.output
    assert "netcheck: results written" not in results_fails.output
    assert report_data(html_ok.read_text())["tests"]  # the HTML report was still written
    assert html_fails.exit_code == 0 and "Traceback" not in html_fails.output
    line = next(x for x in html_fails.output.splitlines() if "could not write the HTML" in x)
    assert line.startswith(f"netcheck: could not write the HTML report {blocker}/report.html")
    assert json.loads((tmp_path / "r.json").read_text())["verdict"]["ok"]
    assert not list(tmp_path.glob(".*.tmp"))  # no temporary file left behind


def test_report_lands_under_rootdir_wherever_pytest_starts(lab: Lab) -> None:
    report = REPO / "reports" / "report.html"
    report.unlink(missing_ok=True)
    proc = pytest_run(
        "-q",
        "-m",
        "ncsi",
        f"--nameserver={lab.nameserver}",
        "--probe-timeout=2",
        "--results=none",
        cwd=REPO / "tests_network",
    )
    assert proc.returncode == 0, proc.stdout
    assert report.exists()
    tests = report_data(report.read_text())["tests"]
    assert any("test_ncsi_web[www.msftconnecttest.com/connecttest.txt]" in tid for tid in tests)
    report.unlink()
