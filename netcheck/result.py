"""What one check returns: outcome, failing layer and cause, evidence and phase timings."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum

from netcheck.advice import advice_for
from netcheck.failures import Failure, Layer, Skip, classify


class Outcome(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    WARN = "warn"  # passed, with a finding the profile only warns about
    SKIP = "skip"
    ERROR = "error"  # no verdict: a bug in netcheck, or a machine too busy to judge the network


class Phase(StrEnum):
    """The steps of a check, in the order a connection meets them (blackbox_exporter's idea):
    each is timed when it runs; one that never ran is absent."""

    RESOLVE = "resolve"
    CONNECT = "connect"
    PROXY = "proxy"
    TLS = "tls"
    HTTP = "http"


class Deadline:
    """A total time budget for one check. The engine may extend it by the time the machine
    was too busy to run the check (see netcheck.engine), never for the network's sake."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds
        self.extended = 0.0

    def remaining(self) -> float:
        left = self.at - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"probe deadline of {self.seconds:g} s exceeded")
        return left

    def extend(self, seconds: float) -> None:
        self.at += seconds
        self.extended += seconds


@dataclass
class Trace:
    """Evidence and per-phase timings collected while a probe runs.

    `attempts` holds the phase timings of each connection the check made, the one that
    decided the verdict last. When the deadline cancels the probe, the innermost phase
    running says at which layer it timed out, unless the probe left a more precise verdict
    in `on_timeout` (an IPv6 path that is broken while IPv4 works, say).
    """

    deadline: Deadline
    attempts: list[dict[str, float]] = field(default_factory=lambda: [{}])
    evidence: dict[str, str] = field(default_factory=dict)
    warnings: list[Failure] = field(default_factory=list)
    on_timeout: Failure | None = None
    timed_out_in: tuple[str, Layer] | None = None
    layers: dict[str, Layer] = field(default_factory=dict)  # the layer each phase works at
    overloaded: bool = False  # the check lost time to this machine, not to the network
    # How long the network has left the running phase unanswered, by the kernel's account
    # (connection attempts: see netcheck.net.dial); 0 when nothing is known.
    unanswered: Callable[[], float] = field(default=lambda: 0.0, repr=False)
    finishers: list[Callable[[], str]] = field(default_factory=list)

    @property
    def phases(self) -> dict[str, float]:
        return self.attempts[-1]

    def attempt(self) -> None:
        """A new connection starts: its phases are timed apart from the previous ones'."""
        if self.attempts[-1]:
            self.attempts.append({})

    @contextmanager
    def phase(
        self, name: Phase, layer: Layer, unanswered: Callable[[], float] | None = None
    ) -> Iterator[None]:
        """Time a phase; classify any error raised inside it as a failure at `layer`.
        `unanswered` tells, while it runs, how long the network has left it unanswered."""
        phases = self.phases
        self.layers.setdefault(name.value, layer)
        start = time.monotonic()
        before = self.unanswered
        self.unanswered = unanswered or before
        try:
            yield
        except (Failure, Skip):
            raise
        except asyncio.CancelledError:
            self.timed_out_in = self.timed_out_in or (name.value, layer)  # the innermost
            raise
        except Exception as exc:
            raise classify(exc, layer) from exc
        finally:
            phases[name.value] = phases.get(name.value, 0.0) + time.monotonic() - start
            self.unanswered = before

    def note(self, **items: object) -> None:
        self.evidence.update({k: str(v) for k, v in items.items() if v is not None})

    def warn(self, finding: Failure) -> None:
        """A finding that does not fail the check (e.g. TLS interception in "warn" mode)."""
        self.warnings.append(finding)

    def finish(self) -> str:
        """Run what the probe left to finish (background lookups that only add evidence);
        the hints they return, for a failure's detail."""
        return "; ".join(hint for finisher in self.finishers if (hint := finisher()))


@dataclass
class Result:
    check: str
    target: str
    outcome: Outcome
    layer: Layer | None = None
    cause: str | None = None
    detail: str = ""
    evidence: dict[str, str] = field(default_factory=dict)
    phases: dict[str, float] = field(default_factory=dict)
    elapsed: float = 0.0
    advice_given: str = ""  # the probe's own advice, where it knows better than the cause's

    @property
    def advice(self) -> str:
        """What to do about this failure or warning ("" when it passed)."""
        return self.advice_given or advice_for(self.check, self.cause, self.layer)

    @property
    def passed(self) -> bool:
        return self.outcome in (Outcome.PASS, Outcome.WARN)

    def explain(self) -> str:
        """A few lines for a human: what failed, why, and what to do."""
        if self.outcome is Outcome.PASS:
            return f"{self.check} {self.target}: passed. {self.detail}".strip()
        head = f"{self.check} {self.target}: {self.outcome.upper()}"
        if self.layer:
            head += f" at {self.layer} ({self.cause})"
        lines = [head, f"  {self.detail}"]
        lines += [f"  {k}: {v}" for k, v in self.evidence.items()]
        if advice := self.advice:
            lines.append(f"What to do: {advice}")
        return "\n".join(lines)
