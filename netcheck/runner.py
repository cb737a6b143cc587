"""Run checks: one deadline each, concurrently, once per run, never raising into the caller."""

from __future__ import annotations

import threading
import time
import traceback
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

from netcheck.failures import Failure, Skip
from netcheck.net import Network
from netcheck.probes import PROBES
from netcheck.profile import DnsName, Domain, Endpoint
from netcheck.result import Deadline, Outcome, Result, Trace

Target = Endpoint | DnsName | Domain


@dataclass(frozen=True)
class Check:
    kind: str  # a key of PROBES
    target: Target

    def __str__(self) -> str:
        return f"{self.kind}[{self.target.id}]"


def run(check: Check, network: Network, timeout: float) -> Result:
    """Run one check to completion within `timeout` seconds; every outcome is a Result."""
    trace = Trace(Deadline(timeout))
    start = time.monotonic()
    result = Result(check.kind, check.target.id, Outcome.PASS)
    try:
        target = check.target
        if _family_variant_through_proxy(target, network):
            raise Skip("through a proxy, the proxy picks IPv4 or IPv6, not this host")
        result.detail = PROBES[check.kind](target, network, trace)
        if trace.warnings:
            warning = trace.warnings[0]
            result.outcome, result.layer, result.cause = Outcome.WARN, warning.layer, warning.cause
            result.detail = f"{warning.detail} (warning only; {result.detail})"
    except Failure as exc:
        result.outcome, result.layer, result.cause = Outcome.FAIL, exc.layer, exc.cause
        result.detail = exc.detail
    except Skip as exc:
        result.outcome, result.detail = Outcome.SKIP, str(exc)
    except Exception as exc:  # a bug in netcheck: say so, never blame the network
        result.outcome, result.detail = Outcome.ERROR, f"internal error: {exc!r}"
        trace.note(traceback="".join(traceback.format_exception(exc, limit=-4)))
    result.elapsed = time.monotonic() - start
    result.evidence, result.phases = trace.evidence, trace.phases
    return result


def _family_variant_through_proxy(target: Target, network: Network) -> bool:
    """The IPv6 variant of a dual-stack endpoint tests nothing new through a proxy."""
    split_v6 = isinstance(target, Endpoint) and target.split and target.family == "ipv6"
    return split_v6 and network.proxy_for(target.url) is not None  # type: ignore[union-attr]


class Runner:
    """Runs each check once, on a bounded pool of threads; results are awaited on demand."""

    def __init__(self, network: Network, timeout: float, workers: int = 64) -> None:
        self.network, self.timeout = network, timeout
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="netcheck")
        self._futures: dict[Check, Future[Result]] = {}
        self._lock = threading.Lock()

    def submit(self, check: Check) -> Future[Result]:
        with self._lock:
            if check not in self._futures:
                self._futures[check] = self._pool.submit(run, check, self.network, self.timeout)
            return self._futures[check]

    def result(self, check: Check) -> Result:
        try:
            # The probe's own deadline ends it; the margin only guards against a bug.
            return self.submit(check).result(timeout=self.timeout + 10)
        except FutureTimeout:
            return Result(
                check.kind,
                check.target.id,
                Outcome.ERROR,
                detail=f"internal error: the probe overran its {self.timeout:g} s deadline",
                elapsed=self.timeout,
            )

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
