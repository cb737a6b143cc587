"""Windows host checks (netcheck.host) as a kind of check: this machine's settings that the
activation checklist names, in the same run and report as the network checks. Collected on
every OS, skipped off Windows."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass

from netcheck.checks.kind import Kind
from netcheck.failures import Failure, Layer, Skip
from netcheck.host import CHECKS, HostCheck, run
from netcheck.net import Network
from netcheck.profile import Profile
from netcheck.result import Trace


@dataclass(frozen=True)
class HostTarget:
    check: HostCheck
    skip: str = ""  # why it is listed but not run (not Windows)
    category: str = "host"
    required: bool = True

    @property
    def id(self) -> str:
        return self.check.id


async def probe(target: HostTarget, network: Network, trace: Trace) -> str:
    """Read and judge the setting (in a thread: the readers block); a reading that could
    not be made is a skip saying why, never an error."""
    verdict = await asyncio.to_thread(run, target.check, trace.deadline.remaining())
    trace.note(**verdict.evidence)
    if verdict.outcome == "unreadable":
        raise Skip(f"{target.check.title}: could not read: {verdict.detail}")
    if verdict.outcome == "fail":
        raise Failure(Layer.HOST, verdict.cause, verdict.detail, verdict.advice)
    if verdict.outcome == "warn":  # the warning's detail is the verdict's
        trace.warn(Failure(Layer.HOST, verdict.cause, verdict.detail, verdict.advice))
        return target.check.title
    return f"{target.check.title}: {verdict.detail}"


def plan(profile: Profile, family: str | None) -> list[HostTarget]:
    skip = "" if sys.platform == "win32" else "Windows only"
    return [HostTarget(check, skip) for check in CHECKS]


KIND = Kind("host", "host", probe, plan)
