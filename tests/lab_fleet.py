"""The scenario labs the self-tests need, brought up concurrently, once per session.

A test module declares the scenarios it reads (`want`), with probes: functions run against
the lab while it is up, after the suite's runs (`curl` through its proxy, `getent` in its
corporate namespace...),
whose results or exceptions its tests then assert on. The first `outcome()` call brings up
every wanted scenario at once (WORKERS at a time), runs each scenario's suite runs and probes,
and tears each lab down as soon as it is done; later calls read the cache.
"""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from lab import scenario as scenarios
from lab.suite import SuiteRun, run_suite
from lab.topology import Lab

# Labs up at once: bringing one up is mostly waiting for daemons; but a suite run takes
# ~1.5 s of CPU, and healthy checks starved of it on 2 cores would miss their deadline.
WORKERS = 6
SUITES = threading.Semaphore(2)  # suite runs at once

Probe = Callable[[Lab], object]


@dataclass
class Outcome:
    runs: dict[str, SuiteRun] = field(default_factory=dict)
    up_seconds: float = 0.0
    down_seconds: float = 0.0
    leftovers: list[str] = field(default_factory=list)
    route_out: dict[str, str] = field(default_factory=dict)  # role -> `ip route get` answer
    probes: dict[str, object] = field(default_factory=dict)  # name -> result or exception
    error: BaseException | None = None  # the lab could not be brought up

    def probe(self, name: str) -> object:
        """A probe's result; its exception, or the lab's, is raised here."""
        if self.error:
            raise self.error
        result = self.probes[name]
        if isinstance(result, BaseException):
            raise result
        return result


_wanted: dict[str, dict[str, Probe]] = {}
_outcomes: dict[str, Outcome] = {}
_lock = threading.Lock()
interfaces: dict[str, list[str]] = {}  # "before" and "after" the labs: this namespace's


def want(name: str, **probes: Probe) -> None:
    """Bring scenario `name` up with the others, running `probes` while it is up."""
    _wanted.setdefault(name, {}).update(probes)


def outcome(name: str, out: Path) -> Outcome:
    with _lock:
        if pending := sorted((n for n in _wanted if n not in _outcomes), key=_cost, reverse=True):
            interfaces.setdefault("before", _interfaces())
            with ThreadPoolExecutor(WORKERS) as pool:
                done = pool.map(lambda n: _bring_up(n, out), pending)
                _outcomes.update(zip(pending, done, strict=True))
            interfaces["after"] = _interfaces()
    result = _outcomes[name]
    if result.error:
        raise result.error
    return result


def _cost(name: str) -> int:
    """Roughly how long a scenario takes: the longest start first."""
    scenario = scenarios.load(name)
    return len(scenario.runs) + len(scenario.sites)


def _bring_up(name: str, out: Path) -> Outcome:
    scenario = scenarios.load(name)
    result = Outcome()
    start = time.monotonic()
    lab = Lab(scenario)
    try:
        with lab:
            result.up_seconds = time.monotonic() - start
            result.route_out = {role: route_get(lab.ns(role)) for role in lab.plan.roles}
            for run in scenario.runs:
                with SUITES:
                    result.runs[run.name] = run_suite(lab, run, out)
            for probe, function in _wanted[name].items():
                try:
                    result.probes[probe] = function(lab)
                except Exception as exc:  # the test that reads it fails, not the others
                    result.probes[probe] = exc
            start = time.monotonic()
    except Exception as exc:
        result.error = exc
    result.down_seconds = time.monotonic() - start
    result.leftovers = lab.leftovers()
    return result


def route_get(ns: str) -> str:
    # 192.0.2.1 (TEST-NET-1) stands for any real address; `ip route get` sends no packet.
    proc = subprocess.run(
        ["ip", "-n", ns, "route", "get", "192.0.2.1"], capture_output=True, text=True
    )
    return (proc.stdout + proc.stderr).strip()


def _interfaces() -> list[str]:
    return [n for _, n in socket.if_nameindex()]
