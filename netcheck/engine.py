"""Run checks: one deadline each, concurrently, once per run, never raising into the caller."""

from __future__ import annotations

import queue
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import Future, wait
from dataclasses import dataclass, replace

from netcheck.checks import KINDS, Target
from netcheck.failures import IPV6_BROKEN, Failure, Skip
from netcheck.net import Network
from netcheck.profile import Endpoint
from netcheck.result import Deadline, Outcome, Result, Trace

# Checks started at once: enough to keep the CPU busy (DNS, TLS, HTTP parsing cost ~3 ms of
# CPU per check), few enough that each gets its share before its deadline.
BASE_CONCURRENCY = 128
# Checks at once, counting those that wait on the network (a dropped host waits a whole
# timeout). A check holds at most two descriptors (TCP and DNS sockets); RESERVED_FILES are
# left for pytest, the report and the interpreter.
MAX_CONCURRENCY = 1024
RESERVED_FILES = 64
# A check still running after this long is waiting on the network, not on the CPU.
SLOW = 0.5
# The probe's own deadline ends it; this margin only guards against a bug in netcheck.
OVERRUN_GRACE = 10.0


@dataclass(frozen=True)
class Check:
    kind: str  # a key of KINDS
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
        result.detail = KINDS[check.kind].probe(target, network, trace)
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


def max_concurrency() -> int:
    """As many checks at once as open-file limits allow (raised if need be), at most
    MAX_CONCURRENCY."""
    try:
        import resource
    except ImportError:  # Windows: no per-process descriptor limit for sockets
        return MAX_CONCURRENCY
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 2 * MAX_CONCURRENCY + RESERVED_FILES
    if soft != resource.RLIM_INFINITY and soft < wanted:
        soft = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    if soft == resource.RLIM_INFINITY:
        return MAX_CONCURRENCY
    return max(1, min(MAX_CONCURRENCY, (soft - RESERVED_FILES) // 2))


class Engine:
    """Runs each check once, in threads; results are awaited on demand.

    Up to `base` checks start at once. Each check that has run for SLOW seconds is taken to
    be waiting on the network and lets one more start, up to `limit`: healthy checks never
    queue behind dropped hosts, a firewall that drops everything costs about one timeout
    per `limit` checks, and no more than about `base` busy checks share the CPU, so none
    misses its deadline for want of it. Time spent queued counts neither against a check's
    deadline nor in its probe time.

    Threads are daemons, so a probe stuck past its deadline (a bug) cannot hold up the end
    of the run. Workers take no lock: with hundreds of threads competing for the GIL, a
    lock holder that loses the GIL stalls everyone behind it.
    """

    def __init__(
        self,
        network: Network,
        timeout: float,
        base: int = BASE_CONCURRENCY,
        limit: int | None = None,
    ) -> None:
        self.network, self.timeout = network, timeout
        self.limit = limit or max_concurrency()
        self.base = min(base, self.limit)
        self._futures: dict[Check, Future[Result]] = {}
        self._started: dict[Check, float] = {}
        self._running: dict[Check, float] = {}
        self._queue: queue.SimpleQueue[tuple[Check, Future[Result]] | None] = queue.SimpleQueue()
        self._idle = threading.Semaphore(0)  # released by a worker each time it waits for work
        self._threads = 0
        self._lock = threading.Lock()  # taken by submit and _widen, never by workers
        self._closed = threading.Event()
        self._widener: threading.Thread | None = None

    def submit(self, *checks: Check) -> list[Future[Result]]:
        """Start these checks (each only once per run); their futures, in order."""
        with self._lock:
            new = [c for c in dict.fromkeys(checks) if c not in self._futures]
            for check in new:
                self._futures[check] = Future()
            # Threads first, work second: a new thread that finds nothing to do starts in
            # microseconds, while one that must win the GIL from busy probes takes far longer.
            for _ in new:
                if not self._idle.acquire(blocking=False) and self._threads < self.base:
                    self._spawn(self._work)
            for check in new:
                self._queue.put((check, self._futures[check]))
            if self._widener is None:
                self._widener = self._spawn(self._widen, worker=False)
            return [self._futures[check] for check in checks]

    def _spawn(self, target: Callable[[], None], *, worker: bool = True) -> threading.Thread:
        thread = threading.Thread(target=target, name="netcheck", daemon=True)
        self._threads += worker
        thread.start()
        return thread

    def _work(self) -> None:
        while job := self._queue.get():
            check, future = job
            self._started[check] = self._running[check] = time.monotonic()
            if future.set_running_or_notify_cancel():
                future.set_result(run(check, self.network, self.timeout))
            del self._running[check]
            self._idle.release()

    def _widen(self) -> None:
        """While checks are queued: one more thread per check waiting on the network."""
        while not self._closed.wait(SLOW / 2):
            if not (queued := self._queue.qsize()):
                continue
            now = time.monotonic()
            slow = sum(now - start > SLOW for start in list(self._running.values()))
            with self._lock:
                wanted = min(self.limit, self.base + slow) - self._threads
                for _ in range(min(wanted, queued)):
                    self._spawn(self._work)

    def result(self, check: Check) -> Result:
        """The check's result; an IPv6 failure counts as `ipv6_broken` only where IPv4 works."""
        result = self._await(check)
        if result.cause == IPV6_BROKEN and isinstance(check.target, Endpoint):
            ipv4 = Check(check.kind, check.target.over("ipv4"))
            if ipv4 in self._futures and not (v4 := self._await(ipv4)).passed:
                cause = result.evidence.get("ipv6_failure", result.cause)
                return replace(
                    result,
                    cause=cause,
                    detail=f"{result.detail}; IPv4 fails too "
                    f"({v4.layer} / {v4.cause}): not an IPv6 problem",
                )
        return result

    def _await(self, check: Check) -> Result:
        [future] = self.submit(check)
        while not future.done():
            started = self._started.get(check)
            if started is None:  # still queued behind other checks
                wait([future], timeout=self.timeout)
                continue
            left = started + self.timeout + OVERRUN_GRACE - time.monotonic()
            if left <= 0:
                return Result(
                    check.kind,
                    check.target.id,
                    Outcome.ERROR,
                    detail=f"internal error: the probe overran its {self.timeout:g} s deadline",
                    elapsed=time.monotonic() - started,
                )
            wait([future], timeout=left)
        return future.result()

    def summary(self) -> str:
        """How many checks ran, over how long (first start to last end), how many at a time."""
        ends = [
            self._started[check] + future.result().elapsed
            for check, future in list(self._futures.items())
            if future.done() and not future.cancelled()
        ]
        if not ends:
            return ""
        span = max(ends) - min(list(self._started.values()))
        return f"{len(ends)} checks probed in {span:.2f} s, up to {self._threads} at a time"

    def close(self) -> None:
        """Cancel the checks not started yet; running ones end at their deadline."""
        self._closed.set()
        with self._lock:
            futures = list(self._futures.values())
            threads, self._threads = self._threads, 0
        for future in futures:
            future.cancel()
        for _ in range(threads):
            self._queue.put(None)
