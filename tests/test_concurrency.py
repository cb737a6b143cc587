"""Probing runs concurrently, once per check, only for the selected tests, with and without
pytest-xdist; the lab's origin server counts the requests each run makes."""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from netcheck.checks import KINDS
from netcheck.engine import Check, Engine
from netcheck.net import Nameserver, Network
from netcheck.net.resolve import Resolver
from netcheck.net.tls import Trust
from netcheck.profile import load
from tests.loopback_lab import Case, Lab, SuiteRun

PATHS = 8


def profile(tag: str) -> str:
    """PATHS plain-HTTP endpoints on the lab origin, each on a path of its own."""
    endpoints = "".join(
        f'[[endpoint]]\nurl = "http://ok.netcheck.test/{tag}/p{i}"\nchecks = ["firewall"]\n'
        for i in range(PATHS)
    )
    return f'[profile]\nname = "{tag}"\n{endpoints}'


def dropped_profile(count: int) -> str:
    """`count` https endpoints whose SYNs are dropped: a firewall check and a tls check each."""
    endpoints = "".join(
        f'[[endpoint]]\nurl = "https://dropped.netcheck.test/d{i}"\n' for i in range(count)
    )
    return f'[profile]\nname = "dropped"\n{endpoints}'


def probed(run: SuiteRun) -> list[Case]:
    """The cases of the run that ran a check (not the skipped kinds the profile lacks)."""
    return [case for case in run.cases.values() if case.outcome != "skipped"]


def requests(lab: Lab, tag: str) -> Counter[str]:
    return Counter(r.path for r in lab.origin_http.requests if r.path.startswith(f"/{tag}/"))


@pytest.mark.parametrize(
    ("tag", "args", "per_check"),
    [
        ("xdist-load", ("-n", "2"), 1),
        ("xdist-each", ("--dist", "each", "--tx", "popen//id=a", "--tx", "popen//id=b"), 2),
    ],
)
def test_each_check_probed_once_per_worker_that_runs_it(
    lab: Lab, tag: str, args: tuple[str, ...], per_check: int
) -> None:
    run = lab.run(profile(tag), *args)
    assert run.exit_code == 0, run.output
    assert [case.outcome for case in probed(run)] == ["passed"] * PATHS * per_check
    assert requests(lab, tag) == {f"/{tag}/p{i}": per_check for i in range(PATHS)}


def test_only_selected_checks_are_probed(lab: Lab) -> None:
    run = lab.run(profile("select"), "-k", "p3 or p5")
    assert run.exit_code == 0, run.output
    assert requests(lab, "select") == {"/select/p3": 1, "/select/p5": 1}


def test_collect_only_probes_nothing(lab: Lab) -> None:
    run = lab.run(profile("collect"), "--collect-only")
    assert run.exit_code == 0, run.output
    assert "test_firewall[ok.netcheck.test/collect/p7]" in run.output
    assert requests(lab, "collect") == {}


def test_dropped_hosts_wait_side_by_side(lab: Lab) -> None:
    """60 checks that each wait a whole timeout end in about one timeout, not in turn (60 s);
    each still reports its own probe time (at most twice the timeout: the engine gives back
    time a busy machine took)."""
    run = lab.run(dropped_profile(30), timeout=1)
    assert len(probed(run)) == 60
    for case in probed(run):
        verdict = (case.outcome, case.props["layer"], case.props["cause"])
        assert verdict == ("failed", "tcp", "timeout")
        assert 0.9 < float(case.props["probe_time"]) < 2.1
    assert run.elapsed < 20, f"60 dropped checks of 1 s took {run.elapsed:.1f} s: in turn?"


def test_a_dropped_check_holds_no_thread(lab: Lab, tmp_path: Path) -> None:
    """400 dropped checks of 1 s on the engine: about one timeout in all (in turn: 400 s),
    with no thread per waiting check."""
    path = tmp_path / "profile.toml"
    path.write_text(dropped_profile(200))
    profile = load(path)
    checks = [Check(k, t) for k in ("firewall", "tls") for t in KINDS[k].plan(profile, None)]
    network = Network(Resolver((Nameserver.parse(lab.nameserver),)), trust=Trust((lab.ca_pem,)))
    engine = Engine(network, timeout=1)
    threads = threading.active_count()
    start = time.monotonic()
    try:
        futures = engine.submit(*checks)
        time.sleep(0.5)
        waiting = threading.active_count() - threads
        results = [future.result() for future in futures]
    finally:
        engine.close()
    wall = time.monotonic() - start
    assert {(r.layer, r.cause) for r in results} == {("tcp", "timeout")}
    assert waiting < 10, f"{waiting} threads for 400 waiting checks"
    assert wall < 5, f"400 dropped checks of 1 s took {wall:.1f} s"
