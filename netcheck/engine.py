"""Run checks: one deadline each, all at once on one event loop, once per run, never raising
into the caller.

The engine's event loop runs in a thread of its own; pytest's thread submits checks and
waits for their results. A check waiting on the network costs a socket, not a thread, so a
firewall that drops a thousand hosts costs one timeout, not a thousand.

Deadlines stay honest under load: the loop measures its own lag (how late its timer ticks
fire). A check that lost time to a busy machine (pytest's own work, TLS handshakes of other
checks, another process) gets that time back, up to its timeout again; one that still runs
out of time while the machine lags is reported as `overloaded`, never as a network timeout.
"""

from __future__ import annotations

import asyncio
import threading
import time
import traceback
from collections.abc import AsyncIterator
from concurrent.futures import Future
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass

from netcheck import failures as f
from netcheck.checks import KINDS, Target
from netcheck.failures import Failure, Layer, Skip
from netcheck.net import Network
from netcheck.profile import Endpoint
from netcheck.result import Deadline, Outcome, Result, Trace

# Checks in flight at once, at most: on two cores, 1024 shared the CPU so thinly that
# healthy checks ran out of time; 256 gave no false verdict up to 5000 endpoints
# (benchmarks/). A check holds up to four descriptors (two connection attempts, an IPv4
# cross-check, a DNS socket); RESERVED_FILES are left for the rest.
MAX_CONCURRENCY = 256
RESERVED_FILES = 64
FILES_PER_CHECK = 4
TICK = 0.02  # the lag monitor's period
SLACK = 0.002  # timer lateness that is only the loop's own jitter
LAG_TOLERANCE = 0.1  # time lost to the machine that a check absorbs without extension
MAX_EXTENSION = 2.0  # a check gets back at most this many timeouts' worth of lost time
# The probe's own deadline ends it; this margin only guards against a bug in netcheck.
OVERRUN_GRACE = 10.0


@dataclass(frozen=True)
class Check:
    kind: str  # a key of KINDS
    target: Target

    def __str__(self) -> str:
        return f"{self.kind}[{self.target.id}]"


class LagMonitor:
    """How late the event loop runs its timers, summed: time every check lost to the machine."""

    def __init__(self) -> None:
        self.total = 0.0
        self.worst = 0.0
        self.due = time.monotonic() + TICK  # when the running tick should have ended

    def lost(self, now: float) -> float:
        """The lag so far, counting the tick under way: after a stall (a frozen process),
        a deadline may come due before the monitor's own wake-up has run."""
        return self.total + max(0.0, now - self.due - SLACK)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self.due = loop.time() + TICK
            await asyncio.sleep(TICK)
            if (late := loop.time() - self.due) > SLACK:
                self.total += late
                self.worst = max(self.worst, late)


@asynccontextmanager
async def deadline(trace: Trace, lag: LagMonitor | None) -> AsyncIterator[None]:
    """Cancel the block when the check's deadline passes (TimeoutError); first extend the
    deadline by what the check lost to a lagging machine, within MAX_EXTENSION. Past that,
    the check is `overloaded` (no verdict), unless the network is known to have left it
    unanswered for a whole timeout (Trace.unanswered)."""
    loop = asyncio.get_running_loop()
    budget, lost_before = trace.deadline, lag.lost(loop.time()) if lag else 0.0
    async with asyncio.timeout(None) as scope:

        def expire() -> None:
            lost = lag.lost(loop.time()) - lost_before if lag else 0.0
            owed = lost - budget.extended
            if owed > LAG_TOLERANCE and budget.extended + owed <= budget.seconds * MAX_EXTENSION:
                budget.extend(owed)
                timer[0] = loop.call_at(budget.at, expire)
                return
            # A connection the network has left unanswered for a whole timeout, by the
            # kernel's account, timed out whatever this machine's load.
            busy = owed > LAG_TOLERANCE and trace.unanswered() < budget.seconds
            trace.overloaded = trace.overloaded or busy
            scope.reschedule(loop.time())

        timer = [loop.call_at(budget.at, expire)]
        try:
            yield
        finally:
            timer[0].cancel()


async def run(
    check: Check, network: Network, timeout: float, lag: LagMonitor | None = None
) -> Result:
    """Run one check to completion within `timeout` seconds; every outcome is a Result."""
    trace = Trace(Deadline(timeout))
    start = time.monotonic()
    result = Result(check.kind, check.target.id, Outcome.PASS)
    try:
        async with deadline(trace, lag):
            if await _family_variant_through_proxy(check.target, network, trace):
                raise Skip("through a proxy, the proxy picks IPv4 or IPv6, not this host")
            result.detail = await KINDS[check.kind].probe(check.target, network, trace)
        if trace.warnings:
            warning = trace.warnings[0]
            _failed(result, warning)
            result.outcome = Outcome.WARN
            result.detail = f"{warning.detail} (warning only; {result.detail})"
    except Failure as exc:
        _failed(result, exc)
    except Skip as exc:
        result.outcome, result.detail = Outcome.SKIP, str(exc)
    except TimeoutError:
        if trace.overloaded:
            result.outcome, result.cause = Outcome.ERROR, f.OVERLOADED
            result.detail = (
                f"no verdict: this machine was too busy to run the check within its {timeout:g} s "
                f"(it lost {trace.deadline.extended:.1f} s and more to other work)"
            )
        else:
            phase, layer = trace.timed_out_in or ("probe", Layer.TCP)
            _failed(
                result,
                trace.on_timeout
                or Failure(
                    layer, f.TIMEOUT, f"no answer within the {timeout:g} s deadline ({phase})"
                ),
            )
    except Exception as exc:  # a bug in netcheck: say so, never blame the network
        result.outcome, result.detail = Outcome.ERROR, f"internal error: {exc!r}"
        trace.note(traceback="".join(traceback.format_exception(exc, limit=-4)))
    # A DNS failure already says what DNS answered; a later one learns it from the hint.
    if (hint := trace.finish()) and result.outcome is Outcome.FAIL and result.layer != Layer.DNS:
        result.detail += f" (note: {hint})"
    result.elapsed = time.monotonic() - start
    result.evidence, result.phases = trace.evidence, trace.phases
    if trace.deadline.extended:
        result.evidence["deadline_extended"] = f"{trace.deadline.extended:.2f} s (machine busy)"
    return result


def _timed_out(trace: Trace, timeout: float) -> Failure:
    """The phase to blame for a check that ran out of time: the one running then, unless an
    earlier one took most of the deadline (a resolver waiting for a dead first server
    leaves a TLS handshake a few milliseconds)."""
    phase, layer = trace.timed_out_in or ("probe", Layer.TCP)
    slowest = max(trace.phases, key=trace.phases.__getitem__, default=phase)
    if slowest != phase and trace.phases[slowest] > trace.deadline.seconds / 2:
        return Failure(
            trace.layers[slowest],
            f.TIMEOUT,
            f"{slowest} took {trace.phases[slowest]:.1f} s of the {timeout:g} s deadline; "
            f"{phase} then ran out of time",
        )
    return Failure(layer, f.TIMEOUT, f"no answer within the {timeout:g} s deadline ({phase})")


def _failed(result: Result, failure: Failure) -> None:
    result.outcome, result.layer, result.cause = Outcome.FAIL, failure.layer, failure.cause
    result.detail, result.advice_given = failure.detail, failure.advice


async def _family_variant_through_proxy(target: Target, network: Network, trace: Trace) -> bool:
    """The IPv6 variant of a dual-stack endpoint tests nothing new through a proxy."""
    split_v6 = isinstance(target, Endpoint) and target.split and target.family == "ipv6"
    return split_v6 and await network.proxy_for(target.location, trace) is not None  # type: ignore[union-attr]


def max_concurrency() -> int:
    """As many checks at once as open-file limits allow (raised if need be), at most
    MAX_CONCURRENCY."""
    try:
        import resource
    except ImportError:  # Windows: no per-process descriptor limit for sockets
        return MAX_CONCURRENCY
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = FILES_PER_CHECK * MAX_CONCURRENCY + RESERVED_FILES
    if soft != resource.RLIM_INFINITY and soft < wanted:
        soft = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    if soft == resource.RLIM_INFINITY:
        return MAX_CONCURRENCY
    return max(1, min(MAX_CONCURRENCY, (soft - RESERVED_FILES) // FILES_PER_CHECK))


class Engine:
    """Runs each check once, on an event loop in a thread of its own; results are awaited
    on demand. Up to `limit` checks are in flight; time spent queued for a slot counts
    neither against a check's deadline nor in its probe time."""

    def __init__(self, network: Network, timeout: float, limit: int | None = None) -> None:
        self.network, self.timeout = network, timeout
        self.limit = limit or max_concurrency()
        self.lag = LagMonitor()
        self.loop = asyncio.new_event_loop()
        self._futures: dict[Check, Future[Result]] = {}
        self._started: dict[Check, float] = {}
        self._peak = self._running = 0
        self._lock = threading.Lock()
        self._slots: asyncio.Semaphore | None = None
        self._thread = threading.Thread(target=self.loop.run_forever, name="netcheck", daemon=True)
        self._thread.start()

    def submit(self, *checks: Check) -> list[Future[Result]]:
        """Start these checks (each only once per run); their futures, in order."""
        with self._lock:
            new = [c for c in dict.fromkeys(checks) if c not in self._futures]
            for check in new:
                self._futures[check] = Future()
            jobs = [(check, self._futures[check]) for check in new]
            if jobs:
                self.loop.call_soon_threadsafe(self._start, jobs)
            return [self._futures[check] for check in checks]

    def _start(self, jobs: list[tuple[Check, Future[Result]]]) -> None:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.limit)
            self._monitor = self.loop.create_task(self.lag.run())
        for check, future in jobs:
            self.loop.create_task(self._run(check, future))

    async def _run(self, check: Check, future: Future[Result]) -> None:
        assert self._slots is not None
        async with self._slots:
            if not future.set_running_or_notify_cancel():
                return
            self._started[check] = time.monotonic()
            self._running += 1
            self._peak = max(self._peak, self._running)
            try:
                result = await run(check, self.network, self.timeout, self.lag)
            finally:
                self._running -= 1
        future.set_result(result)

    def result(self, check: Check) -> Result:
        """The check's Result (an internal error if the probe overran its deadline: a bug)."""
        [future] = self.submit(check)
        longest = self.timeout * (1 + MAX_EXTENSION) + OVERRUN_GRACE
        while not future.done():
            started = self._started.get(check)
            if started is None:  # still queued behind other checks
                _wait(future, self.timeout)
                continue
            if (left := started + longest - time.monotonic()) <= 0:
                return Result(
                    check.kind,
                    check.target.id,
                    Outcome.ERROR,
                    detail=f"internal error: the probe overran its {self.timeout:g} s deadline",
                    elapsed=time.monotonic() - started,
                )
            _wait(future, left)
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
        span = max(ends) - min(self._started.values())
        busy = (
            f"; the machine delayed checks by up to {self.lag.worst * 1000:.0f} ms"
            if self.lag.worst > LAG_TOLERANCE
            else ""
        )
        return f"{len(ends)} checks probed in {span:.2f} s, up to {self._peak} at a time{busy}"

    def close(self) -> None:
        """Cancel the checks not finished; stop the loop."""
        with self._lock:
            futures = list(self._futures.values())
        for future in futures:
            future.cancel()
        stopping = asyncio.run_coroutine_threadsafe(self._stop(), self.loop)
        with suppress(TimeoutError):
            stopping.result(timeout=5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)

    async def _stop(self) -> None:
        """Cancel every task and let each unwind (sockets closed, workers killed)."""
        tasks = [t for t in asyncio.all_tasks(self.loop) if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _wait(future: Future[Result], seconds: float) -> None:
    with suppress(TimeoutError):
        future.exception(timeout=seconds)
