"""The Windows host checks as a kind of check: each verdict of netcheck.host becomes the
Result the report and the gate read, with the check's own advice."""

from __future__ import annotations

import asyncio

import pytest

from netcheck.checks.host import HostTarget
from netcheck.engine import Check, run
from netcheck.host import HostCheck, Reading, Verdict
from netcheck.net import Network


def target(outcome: str) -> HostTarget:
    verdict = Verdict(
        outcome,  # type: ignore[arg-type]
        "" if outcome == "pass" else "host_service_stopped",
        f"the service is {outcome}",
        "" if outcome == "pass" else "Start it.",
        {"state": "Stopped"},
    )
    check = HostCheck(
        "service-NlaSvc", "Network Location Awareness", lambda t: Reading(), lambda r: verdict
    )
    return HostTarget(check)


@pytest.mark.parametrize(
    ("outcome", "result", "layer"),
    [
        ("pass", "pass", None),
        ("fail", "fail", "host"),
        ("warn", "warn", "host"),
        ("unreadable", "skip", None),
    ],
)
def test_host_verdicts_become_results(outcome: str, result: str, layer: str | None) -> None:
    got = asyncio.run(run(Check("host", target(outcome)), Network(), timeout=5))
    assert (got.outcome, got.layer) == (result, layer)
    assert got.evidence["state"] == "Stopped"
    if outcome in ("fail", "warn"):
        assert got.cause == "host_service_stopped" and got.advice == "Start it."
        assert "What to do: Start it." in got.explain()
    if outcome == "unreadable":
        assert "could not read: the service is unreadable" in got.detail
