"""Prometheus metrics of a run: what a records file says comes out as valid text exposition
format (prometheus_client's parser; promtool where it is installed), value for value, whatever
text the labels hold; and the metrics file is replaced atomically.

tests/data/results-lab-firewall.json is the results file of `python -m lab up firewall` and
the suite run in its corporate namespace with --site=hq. tests/data/results-lab-sites.json is
a run of the `sites` scenario (`--dist each` over hq, branch1, branch2) plus a fourth gateway,
branch3, whose python does not exist; its records are trimmed to the firewall checks of two
endpoints.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from netcheck import metrics
from netcheck.failures import Layer
from netcheck.result import Outcome, Result
from netcheck.results import Record, record
from tests.loopback_lab import Lab

DATA = Path(__file__).parent / "data"
PROFILE = "Microsoft 365 Apps activation"


class Exposed:
    """Metrics text read back through prometheus_client's parser."""

    def __init__(self, text: str) -> None:
        self.families = {f.name: f for f in text_string_to_metric_families(text)}

    def find(self, name: str, **labels: Any) -> list[Sample]:
        """The samples of `name` whose labels include `labels` (None: the empty value)."""
        want = {k: "" if v is None else str(v) for k, v in labels.items()}
        family = self.families.get(name)
        return [s for s in family.samples if want.items() <= s.labels.items()] if family else []

    def value(self, name: str, **labels: Any) -> float:
        (sample,) = self.find(name, **labels)
        return sample.value

    def names(self, **labels: Any) -> list[str]:
        """The metrics that have a sample with these labels."""
        return [name for name in self.families if self.find(name, **labels)]


def load(name: str) -> tuple[dict[str, Any], list[Record]]:
    data = json.loads((DATA / name).read_text(encoding="utf-8"))
    return data, data["results"]


def ids(rec: Record) -> dict[str, Any]:
    return {"site": rec["site"], "check": rec["check"], "endpoint": rec["endpoint"]}


def unix(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


# A check for records built here: a profile entry's attributes, as results.record reads them.
TARGET = SimpleNamespace(
    id="app", url="https://app.example/", category="identity", required=True, pattern=""
)


def head(**items: Any) -> dict[str, Any]:
    return {
        "created": "2026-05-04T03:02:01+00:00",
        "duration": 6.5,
        "exit_status": 0,
        "site": None,
        "sites": None,
        "profile": {"name": "p", "path": "p.toml"},
    } | items


def test_each_check_of_a_lab_run_is_exposed_as_its_record_says() -> None:
    run, records = load("results-lab-firewall.json")
    exposed = Exposed(metrics.render(run, records))
    evidence = {k for r in records for k in r["evidence"]}
    assert {"http_status", "tls_version", "certificate_not_after", "crl_next_update"} <= evidence
    for rec in records:
        ev, passed = rec["evidence"], rec["outcome"] == "pass"
        assert exposed.value("netcheck_probe_success", **ids(rec)) == passed
        failures = [
            (s.labels["layer"], s.labels["cause"], s.value)
            for s in exposed.find("netcheck_probe_failure", **ids(rec))
        ]
        assert failures == ([] if passed else [(rec["layer"], rec["cause"], 1)])
        assert exposed.value("netcheck_probe_duration_seconds", **ids(rec)) == rec["probe_time"]
        phases = exposed.find("netcheck_probe_phase_duration_seconds", **ids(rec))
        assert {s.labels["phase"]: s.value for s in phases} == rec["phases"]
        statuses = exposed.find("netcheck_probe_http_status_code", **ids(rec))
        assert [s.value for s in statuses] == (
            [int(ev["http_status"][:3])] if "http_status" in ev else []
        )
        versions = exposed.find("netcheck_probe_tls_version_info", **ids(rec))
        assert [(s.labels["version"], s.value) for s in versions] == (
            [(ev["tls_version"], 1)] if "tls_version" in ev else []
        )
        expiry = exposed.find("netcheck_probe_certificate_expiry_timestamp_seconds", **ids(rec))
        assert [s.value for s in expiry] == (
            [unix(ev["certificate_not_after"])] if "certificate_not_after" in ev else []
        )
        next_update = exposed.find("netcheck_probe_crl_next_update_timestamp_seconds", **ids(rec))
        assert [s.value for s in next_update] == (
            [unix(ev["crl_next_update"])] if "crl_next_update" in ev else []
        )


def test_a_check_carries_its_profile_site_target_category_and_requiredness() -> None:
    exposed = Exposed(metrics.render(*load("results-lab-firewall.json")))
    (sample,) = exposed.find(
        "netcheck_probe_failure", check="firewall", endpoint="officecdn.microsoft.com"
    )
    assert sample.labels == {
        "profile": PROFILE,
        "site": "hq",
        "check": "firewall",
        "endpoint": "officecdn.microsoft.com",
        "target": "https://officecdn.microsoft.com/",
        "required": "true",
        "category": "activation",
        "layer": "tcp",
        "cause": "timeout",
    }
    tls = {"check": "tls", "endpoint": "ols.officeapps.live.com/olsc"}
    expiry = exposed.value("netcheck_probe_certificate_expiry_timestamp_seconds", **tls)
    assert expiry == datetime(3000, 1, 1, tzinfo=UTC).timestamp()  # the lab's certificates


def test_the_run_its_duration_exit_status_and_counts_by_outcome() -> None:
    run, records = load("results-lab-firewall.json")
    exposed = Exposed(metrics.render(run, records))
    labels = {"profile": PROFILE, "site": "hq"}
    started = datetime(2026, 12, 3, 18, 6, 11, tzinfo=UTC).timestamp()
    assert exposed.value("netcheck_run_start_timestamp_seconds", **labels) == started
    assert exposed.value("netcheck_run_duration_seconds", **labels) == 5.263
    assert exposed.value("netcheck_run_exit_status", **labels) == 1
    counts = {s.labels["outcome"]: s.value for s in exposed.find("netcheck_run_checks", **labels)}
    assert counts == {"pass": 40, "fail": 26, "warn": 0, "skip": 0, "error": 0}
    assert run["summary"] == {"failed": 26, "passed": 40}  # pytest's count agrees
    assert not exposed.find("netcheck_site_up")  # a run from one place


def test_a_run_from_several_sites_says_which_site_ran_and_labels_each_check_with_its_site() -> None:
    run, records = load("results-lab-sites.json")
    text = metrics.render(run, records)
    exposed = Exposed(text)
    up = {s.labels["site"]: s.value for s in exposed.find("netcheck_site_up")}
    assert up == {"hq": 1, "branch1": 1, "branch2": 1, "branch3": 0}
    counts = {
        (s.labels["site"], s.labels["outcome"]): s.value
        for s in exposed.find("netcheck_run_checks")
        if s.value
    }
    assert counts == {
        ("hq", "pass"): 4,
        ("branch1", "pass"): 2,
        ("branch1", "fail"): 2,
        ("branch2", "pass"): 2,
        ("branch2", "fail"): 2,
    }
    assert len(exposed.find("netcheck_run_checks", site="branch3")) == 5  # zeros, not absent
    assert exposed.value("netcheck_run_exit_status", site="") == 1  # the run as a whole
    endpoint = {"check": "firewall", "endpoint": "officecdn.microsoft.com"}
    assert exposed.value("netcheck_probe_success", site="hq", **endpoint) == 1
    assert exposed.value("netcheck_probe_failure", site="branch1", cause="timeout", **endpoint)
    assert exposed.value("netcheck_probe_success", site="branch2", **endpoint) == 1


def every_outcome() -> list[Record]:
    """Records of a pass, two skips (before probing, and by the probe), a warning and an
    internal error, as results.record makes them."""
    other = SimpleNamespace(**vars(TARGET) | {"id": "other"})
    warned = Result(
        "firewall",
        "app",
        Outcome.WARN,
        Layer.TLS,
        "tls_interception",
        "TLS inspection by Contoso",
        {"tls_version": "TLSv1.2", "http_status": "200 OK"},
        {"resolve": 0.01, "connect": 0.02, "tls": 0.03, "http": 0.04},
        0.1,
    )
    return [
        record("t::a", "firewall", TARGET, None, None),
        record("t::b", "tls", TARGET, Result("tls", "app", Outcome.SKIP, elapsed=0.2), None),
        record("t::c", "firewall", other, warned, None),
        record("t::d", "tls", other, Result("tls", "other", Outcome.ERROR, elapsed=0.3), None),
        record("t::e", "crl", other, Result("crl", "other", Outcome.PASS, elapsed=0.4), None),
    ]


def test_skipped_warned_and_internal_error_checks() -> None:
    exposed = Exposed(metrics.render(head(), every_outcome()))
    for check in ("firewall", "tls"):
        skipped = {"check": check, "endpoint": "app"}
        assert exposed.names(**skipped) == ["netcheck_probe_skipped"]
        assert exposed.value("netcheck_probe_skipped", **skipped) == 1
    warn = {"check": "firewall", "endpoint": "other"}
    assert exposed.value("netcheck_probe_success", **warn) == 1
    assert exposed.value("netcheck_probe_warning", layer="tls", cause="tls_interception", **warn)
    assert not exposed.find("netcheck_probe_failure", **warn)
    assert exposed.value("netcheck_probe_http_status_code", **warn) == 200
    error = {"check": "tls", "endpoint": "other"}
    assert exposed.value("netcheck_probe_success", **error) == 0
    assert exposed.value("netcheck_probe_failure", layer="", cause="internal_error", **error)
    assert exposed.value("netcheck_probe_duration_seconds", **error) == 0.3
    counts = {s.labels["outcome"]: s.value for s in exposed.find("netcheck_run_checks")}
    assert counts == {"pass": 1, "warn": 1, "fail": 0, "skip": 2, "error": 1}


def test_evidence_that_is_not_a_date_or_status_gives_no_sample() -> None:
    result = Result("crl", "app", Outcome.PASS, elapsed=0.1)
    result.evidence = {
        "crl_next_update": "none",  # a CRL without nextUpdate
        "certificate_not_after": "next Tuesday",
        "http_status": "2OO OK",
    }
    exposed = Exposed(metrics.render(head(), [record("t::a", "crl", TARGET, result, None)]))
    assert exposed.value("netcheck_probe_success", endpoint="app") == 1
    for name in ("crl_next_update_timestamp_seconds", "certificate_expiry_timestamp_seconds"):
        assert not exposed.find(f"netcheck_probe_{name}")
    assert not exposed.find("netcheck_probe_http_status_code")


def test_a_check_repeated_in_the_records_is_one_series() -> None:
    rec = record("t::a", "firewall", TARGET, Result("firewall", "app", Outcome.PASS), "hq")
    exposed = Exposed(metrics.render(head(site="hq"), [rec, dict(rec), dict(rec)]))
    assert len(exposed.find("netcheck_probe_success")) == 1


INJECTION = (
    'x"} 1\nnetcheck_probe_success{endpoint="evil"} 1\n# TYPE netcheck_probe_skipped counter'
)
HOSTILE = [
    INJECTION,
    "back\\slash",
    'quo"te',
    "new\nline",
    "cr\rtab\tnul\x00",
    "日本 é",
    "}{=,#",
    "\udcff",
]


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.sampled_from(HOSTILE), st.text(st.characters(exclude_categories=()))))
def test_any_text_in_a_label_round_trips_through_the_parser(text: str) -> None:
    """Ids, URLs, categories, site and profile names come from profiles, the command line and
    the network: none can break the format or add a sample. What UTF-8 cannot carry (lone
    surrogates) becomes '?'."""
    target = SimpleNamespace(id=text, url=text, category=text, required=False, pattern="")
    result = Result("firewall", text, Outcome.FAIL, Layer.TCP, "timeout", elapsed=1.0)
    result.phases, result.evidence = {text: 0.5}, {"tls_version": f"v{text}"}
    rec = record("t::a", "firewall", target, result, text)
    exposed = Exposed(metrics.render(head(site=text, profile={"name": text}), [rec]))
    carried = text.encode("utf-8", "replace").decode("utf-8")
    (success,) = exposed.families["netcheck_probe_success"].samples
    assert success.value == 0
    assert success.labels == {
        "profile": carried,
        "site": carried,
        "check": "firewall",
        "endpoint": carried,
        "target": carried,
        "required": "false",
        "category": carried,
    }
    assert exposed.value("netcheck_probe_phase_duration_seconds", phase=carried) == 0.5
    assert exposed.value("netcheck_probe_tls_version_info", version=f"v{carried}") == 1
    samples = Counter(s.name for f in exposed.families.values() for s in f.samples)
    assert samples == {name: 1 for name in exposed.families} | {"netcheck_run_checks": 5}
    assert set(samples) == {
        *(f"netcheck_run_{n}" for n in ("start_timestamp_seconds", "duration_seconds")),
        *(f"netcheck_run_{n}" for n in ("exit_status", "checks")),
        *(f"netcheck_probe_{n}" for n in ("success", "failure", "duration_seconds")),
        *(f"netcheck_probe_{n}" for n in ("phase_duration_seconds", "tls_version_info")),
    }


def hostile_run() -> str:
    target = SimpleNamespace(id=INJECTION, url="\n".join(HOSTILE), category="", required=True)
    rec = record("t::a", "firewall", target, Result("firewall", "x", Outcome.PASS), "\udcff")
    return metrics.render(head(profile={"name": "\\".join(HOSTILE)}), [rec])


RUNS: dict[str, Callable[[], str]] = {
    "lab firewall": lambda: metrics.render(*load("results-lab-firewall.json")),
    "lab sites": lambda: metrics.render(*load("results-lab-sites.json")),
    "every outcome": lambda: metrics.render(head(), every_outcome()),
    "hostile labels": hostile_run,
}


@pytest.mark.parametrize("run", RUNS)
def test_every_family_has_help_and_type(run: str) -> None:
    text = RUNS[run]()
    for name, family in Exposed(text).families.items():
        assert name.startswith("netcheck_") and family.type == "gauge"
        assert family.documentation, name
        assert f"# HELP {name} " in text and f"# TYPE {name} gauge\n" in text


def test_the_runs_here_hold_every_family() -> None:
    names = set().union(*(Exposed(text()).families for text in RUNS.values()))
    assert len(names) == 15


@pytest.mark.parametrize("run", RUNS)
def test_promtool_accepts_and_lints_clean(run: str) -> None:
    """Prometheus' own parser and linter (promtool check metrics), where it is installed."""
    if not (promtool := shutil.which("promtool")):
        pytest.skip("promtool not installed (Debian: the prometheus package)")
    proc = subprocess.run(
        [promtool, "check", "metrics"], input=RUNS[run](), capture_output=True, text=True
    )
    assert (proc.returncode, proc.stdout + proc.stderr) == (0, "")


# Writing the file.


def test_write_replaces_the_file_world_readable_and_leaves_nothing_else(tmp_path: Path) -> None:
    path = tmp_path / "netcheck.prom"
    metrics.write(path, "old 1\n")
    metrics.write(path, "new 2\n")
    assert path.read_text() == "new 2\n"
    assert os.listdir(tmp_path) == ["netcheck.prom"]
    if os.name == "posix":
        assert path.stat().st_mode & 0o777 == 0o644


def test_a_write_failing_midway_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "netcheck.prom"
    metrics.write(path, "old 1\n")

    def disk_full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", disk_full)  # after the bytes went out, before the rename
    with pytest.raises(metrics.MetricsError) as caught:
        metrics.write(path, "new 2\n" * 1000)
    assert str(caught.value) == f"{path}: cannot write the metrics file: No space left on device"
    assert path.read_text() == "old 1\n"
    assert os.listdir(tmp_path) == ["netcheck.prom"]


def test_a_missing_directory_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "textfile" / "netcheck.prom"
    with pytest.raises(metrics.MetricsError) as caught:
        metrics.write(path, "x 1\n")
    assert str(caught.value) == f"{path}: cannot write the metrics file: No such file or directory"
    assert not path.parent.exists()


def test_a_reader_never_sees_a_partial_file(tmp_path: Path) -> None:
    """The textfile collector reads whenever it is scraped: it must get one whole version.
    (Writing in place, as Path.write_text does, fails this at once.)"""
    path = tmp_path / "netcheck.prom"
    versions = ["a 1\n" * 65536, "b 2\n" * 65536]
    metrics.write(path, versions[0])
    done, seen = threading.Event(), Counter()

    def writer() -> None:
        for i in range(60):
            metrics.write(path, versions[i % 2])
        done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    deadline = time.monotonic() + 30
    while not done.is_set() and time.monotonic() < deadline:
        text = path.read_text()
        seen["whole" if text in versions else "partial"] += 1
    thread.join()
    assert seen["partial"] == 0 and seen["whole"] > 0


# Against the suite as it runs now: the records the plugin makes carry what the metrics read.

LIVE = """
[profile]
name = "metrics"

[[endpoint]]
url = "https://ok.netcheck.test/"
[[endpoint]]
url = "https://refused.netcheck.test/"
checks = ["firewall"]
[[endpoint]]
url = "https://intercepted.netcheck.test/"
checks = ["firewall"]
interception = "warn"
[[endpoint]]
url = "https://*.netcheck.test/"
[[endpoint]]
url = "http://ok.netcheck.test/crl.crl"
checks = ["crl"]
"""


@pytest.mark.slow
def test_a_suite_run_as_metrics(lab: Lab, tmp_path: Path) -> None:
    """--metrics writes the run's metrics beside its results, the same facts."""
    path = tmp_path / "netcheck.prom"
    run = lab.run(LIVE, "--site=lab", f"--metrics={path}")
    assert "metrics written to" in run.output
    records = run.results["results"]
    text = path.read_text(encoding="utf-8")
    exposed = Exposed(text)
    now = time.time()

    ok = {"site": "lab", "check": "firewall", "endpoint": "ok.netcheck.test"}
    assert exposed.value("netcheck_probe_success", **ok) == 1
    assert exposed.value("netcheck_probe_http_status_code", **ok) == 200
    assert exposed.find("netcheck_probe_tls_version_info", **ok)[0].labels["version"] in (
        "TLSv1.2",
        "TLSv1.3",
    )
    assert exposed.value("netcheck_probe_certificate_expiry_timestamp_seconds", **ok) > now
    phases = exposed.find("netcheck_probe_phase_duration_seconds", **ok)
    assert {s.labels["phase"] for s in phases} == {"resolve", "connect", "tls", "http"}
    refused = {"endpoint": "refused.netcheck.test", "layer": "tcp", "cause": "connection_refused"}
    assert exposed.value("netcheck_probe_failure", **refused) == 1
    inspected = {"endpoint": "intercepted.netcheck.test", "layer": "tls"}
    assert exposed.value("netcheck_probe_warning", cause="tls_interception", **inspected) == 1
    next_update = exposed.value("netcheck_probe_crl_next_update_timestamp_seconds", check="crl")
    assert now + 23 * 3600 < next_update < now + 25 * 3600  # the lab's CRL: valid for a day

    skipped = [r for r in records if r["outcome"] == "skip"]
    assert any(r["check"] == "firewall" for r in skipped)  # the wildcard without probe host
    for rec in skipped:
        assert exposed.names(**ids(rec)) == ["netcheck_probe_skipped"]
        assert exposed.value("netcheck_probe_skipped", **ids(rec)) == 1
    assert exposed.value("netcheck_run_exit_status", site="lab") == run.exit_code == 1
    counts = {s.labels["outcome"]: s.value for s in exposed.find("netcheck_run_checks")}
    outcomes = Counter(r["outcome"] for r in records)
    assert counts == {o: outcomes[o] for o in ("pass", "warn", "fail", "skip", "error")}
