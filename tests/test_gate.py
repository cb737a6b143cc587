"""Change validation against the lab: optional checks do not fail the run, every run writes
a JSON results file, and --baseline shows (and can gate on) what changed since an earlier run.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from netcheck.advice import advice_for
from netcheck.results import NEW_PASS, SCHEMA, VERSION, change
from tests.fakenet import ZoneEntry
from tests.loopback_lab import FAULT_HOSTS, ORIGIN, REPO, Lab, SuiteRun
from tests.test_cli import pytest_run

REFUSED = FAULT_HOSTS["refused.netcheck.test"]

OPTIONAL = """
[profile]
name = "required and optional"

[[endpoint]]
url = "https://ok.netcheck.test/"
checks = ["firewall"]
[[endpoint]]
url = "https://refused.netcheck.test/"
checks = ["firewall"]
required = false
[[endpoint]]
url = "https://*.netcheck.test/"
[[endpoint]]
url = "https://*k.netcheck.test/"
probe_host = "ok.netcheck.test"
checks = ["firewall"]
"""


MOVED = "gate-results/r.json"  # under the lab's directory
# The runs of OPTIONAL: name -> (profile, pytest arguments, Lab.run keywords). They run
# concurrently, so together they cost about one run.
RUNS: dict[str, tuple[str, tuple[str, ...], dict]] = {
    "optional": (OPTIONAL, ("-rxs",), {"timeout": 5}),
    "required": (OPTIONAL.replace("required = false", "required = true"), ("-k", "refused"), {}),
    "fail on any": (OPTIONAL, ("--fail-on=any", "-k", "refused"), {}),
    "results moved": (OPTIONAL, ("--results={workdir}/" + MOVED, "-k", "ok"), {}),
    "results off": (OPTIONAL, ("--results=none", "-k", "ok"), {}),
    "xdist": (OPTIONAL, ("-n", "2"), {"timeout": 5}),
}


@pytest.fixture(scope="module")
def runs(lab: Lab) -> dict[str, SuiteRun]:
    def run(name: str) -> SuiteRun:
        profile, args, kwargs = RUNS[name]
        return lab.run(profile, *(a.format(workdir=lab.workdir) for a in args), **kwargs)

    with ThreadPoolExecutor(len(RUNS)) as pool:
        return dict(zip(RUNS, pool.map(run, RUNS), strict=True))


@pytest.fixture(scope="module")
def optional(runs: dict[str, SuiteRun]) -> SuiteRun:
    return runs["optional"]


def test_a_failing_optional_check_is_reported_but_passes_the_run(optional: SuiteRun) -> None:
    assert optional.exit_code == 0, optional.output
    case = optional.cases["test_firewall[refused.netcheck.test]"]
    assert case.outcome == "xfailed"
    assert case.message.startswith("optional check failed: fail at tcp (connection_refused)")
    assert case.props["required"] == "False" and case.props["cause"] == "connection_refused"
    assert "XFAIL tests_network/test_firewall.py::test_firewall[refused.netcheck.test] - " in (
        optional.output
    )
    assert "2 passed, 6 skipped, 1 xfailed" in optional.output


def test_the_same_failure_when_required_fails_the_run(runs: dict[str, SuiteRun]) -> None:
    run = runs["required"]
    assert run.exit_code == 1
    assert run.cases["test_firewall[refused.netcheck.test]"].outcome == "failed"


def test_fail_on_any_fails_the_run_for_optional_checks_too(runs: dict[str, SuiteRun]) -> None:
    run = runs["fail on any"]
    assert run.exit_code == 1
    assert run.results["results"][0]["test_outcome"] == "failed"


def test_wildcards_are_probed_at_their_probe_host_or_skipped_with_the_reason(
    optional: SuiteRun,
) -> None:
    assert optional.verdict("test_firewall[*k.netcheck.test]") == ("passed", "", "")
    assert optional.cases["test_firewall[*k.netcheck.test]"].props["target"] == (
        "https://ok.netcheck.test/"
    )
    bare = optional.cases["test_firewall[*.netcheck.test]"]
    assert bare.outcome == "skipped"
    assert "wildcard *.netcheck.test: no concrete host to probe; add probe_host" in bare.message
    assert "test_tls12[*.netcheck.test]" in optional.cases  # every check of it is listed


def test_results_file_holds_one_record_per_check(optional: SuiteRun) -> None:
    data = optional.results
    assert (data["schema"], data["version"], data["site"]) == (SCHEMA, VERSION, None)
    assert data["exit_status"] == 0 and data["baseline"] is None
    assert data["summary"] == {"passed": 2, "skipped": 6, "xfailed": 1}
    by_id = {r["id"].split("::")[1]: r for r in data["results"]}
    assert len(by_id) == len(optional.cases) == 9
    refused = by_id["test_firewall[refused.netcheck.test]"]
    assert refused | {"probe_time": 0, "phases": {}, "evidence": {}} == {
        "id": "tests_network/test_firewall.py::test_firewall[refused.netcheck.test]",
        "site": None,
        "check": "firewall",
        "endpoint": "refused.netcheck.test",
        "target": "https://refused.netcheck.test/",
        "pattern": None,
        "category": "general",
        "service_area": None,
        "required": False,
        "outcome": "fail",
        "layer": "tcp",
        "cause": "connection_refused",
        "detail": "refused.netcheck.test port 443 (198.18.2.1): Connection refused",
        "advice": advice_for("firewall", "connection_refused", "tcp"),
        "probe_time": 0,
        "phases": {},
        "addresses": [REFUSED],
        "address": None,
        "tried": [f"{REFUSED}:443 connection_refused"],
        "proxy": None,
        "evidence": {},
        "certificate": None,
        "test_outcome": "xfailed",
        "change": None,
        "baseline": None,
        "finding": "F1",
    }
    assert set(refused["phases"]) == {"resolve", "connect"}
    ok = by_id["test_firewall[ok.netcheck.test]"]
    assert ok["address"] == f"{ORIGIN} port 443" and ok["evidence"]["http_status"] == "200 OK"
    wildcard = by_id["test_firewall[*.netcheck.test]"]
    assert (wildcard["outcome"], wildcard["pattern"]) == ("skip", "*.netcheck.test")
    assert wildcard["detail"].startswith("wildcard *.netcheck.test: no concrete host")


def test_junit_properties_state_the_same_facts_as_the_results_file(optional: SuiteRun) -> None:
    for rec in optional.results["results"]:
        props = optional.cases[rec["id"].split("::")[1]].props
        for name in ("check", "endpoint", "outcome", "layer", "cause", "detail", "address"):
            assert props[name] == (rec[name] or ""), name
        assert props["required"] == ("" if rec["required"] is None else str(rec["required"]))
        assert {f"time_{p}" for p in rec["phases"]} <= set(props)


def test_results_option_moves_or_disables_the_file(lab: Lab, runs: dict[str, SuiteRun]) -> None:
    moved = lab.workdir / MOVED
    run = runs["results moved"]
    assert json.loads(moved.read_text())["summary"] == {"passed": 1}
    assert not run.results and f"results written to {moved}" in run.output
    off = runs["results off"]
    assert not off.results and "results written" not in off.output


def test_results_are_gathered_from_xdist_workers(runs: dict[str, SuiteRun]) -> None:
    run = runs["xdist"]
    assert run.exit_code == 0, run.output
    assert run.results["summary"] == {"passed": 2, "skipped": 6, "xfailed": 1}
    refused = next(r for r in run.results["results"] if r["endpoint"] == "refused.netcheck.test")
    assert refused["cause"] == "connection_refused" and refused["test_outcome"] == "xfailed"


# --- before/after: the lab changes between two runs ---

CHANGES = """
[profile]
name = "a firewall change"

[[endpoint]]
url = "http://stable.netcheck.test/"
[[endpoint]]
url = "http://breaks.netcheck.test/"
[[endpoint]]
url = "http://optional-breaks.netcheck.test/"
required = false
[[endpoint]]
url = "http://heals.netcheck.test/"
[[endpoint]]
url = "http://recause.netcheck.test/"
[[endpoint]]
url = "http://broken.netcheck.test/"
"""
BEFORE = {
    "stable": ORIGIN,
    "breaks": ORIGIN,
    "optional-breaks": ORIGIN,
}  # heals, recause, broken: NXDOMAIN
AFTER = {
    "stable": ORIGIN,
    "optional-breaks": REFUSED,
    "heals": ORIGIN,
    "recause": REFUSED,
}  # breaks, broken: NXDOMAIN


@pytest.fixture(scope="module")
def zone(lab: Lab) -> Iterator[Callable[[dict[str, str]], None]]:
    """Point the `<name>.netcheck.test` hosts at addresses; the rest do not exist."""
    names = {f"{n}.netcheck.test" for n in (*BEFORE, *AFTER, "broken")}

    def apply(hosts: dict[str, str]) -> None:
        for name in names:
            lab.dns.remove(name)
        for short, address in hosts.items():
            lab.dns.set(f"{short}.netcheck.test", ZoneEntry(a=[address]))

    yield apply
    apply({})


@pytest.fixture(scope="module")
def before_after(lab: Lab, zone, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SuiteRun]:
    """The baseline (BEFORE) and a run against it (AFTER); the zone is left as AFTER."""
    baseline = tmp_path_factory.mktemp("gate") / "before.json"
    zone(BEFORE)
    first = lab.run(CHANGES, "-m", "firewall", f"--results={baseline}")
    assert first.exit_code == 1  # heals, recause and broken fail, required
    zone(AFTER)
    after = lab.run(CHANGES, "-m", "firewall", f"--baseline={baseline}")
    return baseline, after


def test_baseline_diff_names_new_failures_new_passes_and_changed_causes(before_after) -> None:
    baseline, run = before_after
    changes = {r["endpoint"].split(".")[0]: r["change"] for r in run.results["results"]}
    assert changes == {
        "stable": "unchanged",
        "breaks": "new_failure",
        "optional-breaks": "new_failure",
        "heals": "new_pass",
        "recause": "cause_changed",
        "broken": "unchanged",
    }
    assert run.results["baseline"] == str(baseline)
    recause = next(r for r in run.results["results"] if r["endpoint"].startswith("recause"))
    assert recause["baseline"] == {"outcome": "fail", "layer": "dns", "cause": "dns_nxdomain"}
    assert (recause["layer"], recause["cause"]) == ("tcp", "connection_refused")
    assert run.cases["test_firewall[breaks.netcheck.test]"].props["change"] == "new_failure"

    section = run.output.split("netcheck: changes since", 1)[1]
    lines = [line.split(None, 2) for line in section.splitlines()[1:6]]
    assert [" ".join(line[:2]) for line in lines] == [
        "NEWLY FAILS",
        "NEWLY FAILS",
        "CHANGED CAUSE",
        "NEWLY PASSES",
        "2 newly",
    ]
    assert "firewall breaks.netcheck.test [required]: fail at dns (dns_nxdomain); was pass" in (
        section
    )
    optional = "firewall optional-breaks.netcheck.test [optional]: fail at tcp (connection_refused)"
    assert optional in section
    assert (
        "firewall recause.netcheck.test [required]: fail at tcp (connection_refused); "
        "was fail at dns (dns_nxdomain)" in section
    )
    assert "firewall heals.netcheck.test [required]: was fail at dns (dns_nxdomain)" in section
    assert (
        "2 newly failing (1 required), 1 newly passing, 1 changed cause, 0 new checks, "
        "0 no longer run" in section
    )
    page = run.html
    assert page.index("Changes since the baseline") < page.index('id="results-table"')
    assert "breaks.netcheck.test [required]: fail at dns (dns_nxdomain); was pass" in page
    assert run.exit_code == 1  # the default gate: required checks fail the run


def test_a_check_that_now_passes_with_a_warning_newly_passes() -> None:
    before = {"outcome": "fail", "layer": "tls", "cause": "tls_untrusted_certificate"}
    now = {"outcome": "warn", "layer": "tls", "cause": "tls_interception"}
    assert change(now, before) == NEW_PASS


def test_fail_on_new_required_failures_tolerates_known_failures(
    lab: Lab, zone, before_after
) -> None:
    baseline, _ = before_after
    gate = ("-m", "firewall", "--fail-on=new-required-failures", f"--baseline={baseline}")
    run = lab.run(CHANGES, *gate)
    assert run.exit_code == 1  # breaks.netcheck.test: required, passed in the baseline
    outcomes = {name.split("[")[1].split(".")[0]: c.outcome for name, c in run.cases.items()}
    assert outcomes == {
        "stable": "passed",
        "breaks": "failed",
        "optional-breaks": "xfailed",
        "heals": "passed",
        "recause": "xfailed",
        "broken": "xfailed",
    }
    assert run.cases["test_firewall[broken.netcheck.test]"].message.startswith(
        "known failure (baseline: fail at dns (dns_nxdomain)): fail at dns (dns_nxdomain)"
    )
    zone({**AFTER, "breaks": ORIGIN})  # undo the breaking change: known failures remain
    fixed = lab.run(CHANGES, *gate)
    assert fixed.exit_code == 0, fixed.output
    assert fixed.results["summary"] == {"passed": 3, "xfailed": 3}


def test_fail_on_new_required_failures_needs_a_baseline() -> None:
    proc = pytest_run("--fail-on=new-required-failures", "--collect-only", "-q", cwd=REPO)
    assert proc.returncode == 4
    assert proc.stderr.strip() == ("ERROR: --fail-on=new-required-failures needs --baseline=PATH")


def test_schema_document_lists_every_field(optional: SuiteRun) -> None:
    doc = (REPO / "docs" / "results-schema.md").read_text()
    top, finding, record = re.split(r"^## A (?:finding|record)$", doc, flags=re.MULTILINE)

    def fields(section: str) -> set[str]:
        cells = re.findall(r"^\| ((?:`\w+`(?:, )?)+) \|", section, re.MULTILINE)
        return {name for cell in cells for name in re.findall(r"`(\w+)`", cell)}

    assert fields(top) == set(optional.results)
    assert fields(finding) == set(optional.results["findings"][0])
    assert fields(record) == set(optional.results["results"][0])
