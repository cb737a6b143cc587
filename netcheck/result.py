"""What one check returns: outcome, failing layer and cause, evidence and phase timings."""

from __future__ import annotations

import time
from collections.abc import Iterator
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
    ERROR = "error"  # a bug in netcheck, never the network's fault


class Deadline:
    """A total time budget for one check; every blocking call takes its timeout from here."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds

    def remaining(self) -> float:
        left = self.at - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"probe deadline of {self.seconds:g} s exceeded")
        return left


@dataclass
class Trace:
    """Evidence and per-phase timings collected while a probe runs."""

    deadline: Deadline
    phases: dict[str, float] = field(default_factory=dict)
    evidence: dict[str, str] = field(default_factory=dict)
    warnings: list[Failure] = field(default_factory=list)

    @contextmanager
    def phase(self, name: str, layer: Layer) -> Iterator[None]:
        """Time a phase; classify any error raised inside it as a failure at `layer`."""
        start = time.monotonic()
        try:
            yield
        except (Failure, Skip):
            raise
        except Exception as exc:
            raise classify(exc, layer) from exc
        finally:
            self.phases[name] = time.monotonic() - start

    def note(self, **items: object) -> None:
        self.evidence.update({k: str(v) for k, v in items.items() if v is not None})

    def warn(self, finding: Failure) -> None:
        """A finding that does not fail the check (e.g. TLS interception in "warn" mode)."""
        self.warnings.append(finding)


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
        if advice := advice_for(self.check, self.cause):
            lines.append(f"What to do: {advice}")
        return "\n".join(lines)
