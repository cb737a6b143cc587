"""The Windows host checks' verdicts, from recorded readings (any OS).

Each file under tests/data/host/<check id>/ is one reading as its collector returns it
(`data` and `error`, as `python -m netcheck.host --record` writes them) plus `expect`: the
outcome, the cause and words the detail (and advice, and evidence) must contain.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from netcheck.host import CHECKS, Reading, causes

DATA = Path(__file__).parent / "data" / "host"
BY_ID = {check.id: check for check in CHECKS}
CASES = sorted(p for p in DATA.glob("*/*.json") if p.parent.name in BY_ID)


def expectation(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))["expect"]


@pytest.mark.parametrize("path", CASES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_recorded_reading(path: Path) -> None:
    expect = expectation(path)
    verdict = BY_ID[path.parent.name].interpret(Reading.from_json(path.read_text("utf-8")))
    default = causes.UNREADABLE if expect["outcome"] == "unreadable" else ""
    assert (verdict.outcome, verdict.cause) == (expect["outcome"], expect.get("cause", default))
    for words in expect.get("detail", []):
        assert words in verdict.detail
    for words in expect.get("advice", []):
        assert words in verdict.advice
    for key, words in expect.get("evidence", {}).items():
        assert words in verdict.evidence[key]
    # Every verdict: one line of detail, advice exactly when it did not pass, text evidence.
    assert verdict.detail and "\n" not in verdict.detail
    assert bool(verdict.advice) == (verdict.outcome != "pass")
    assert verdict.cause in causes.ALL | {""}
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in verdict.evidence.items())


# The office cache has no failing state: its content is undocumented, so it is only shown.
SHOWN_ONLY = {"office-webservicecache"}


@pytest.mark.parametrize("check", sorted(BY_ID))
def test_every_check_has_pass_problem_and_unreadable_readings(check: str) -> None:
    outcomes = {expectation(p)["outcome"] for p in CASES if p.parent.name == check}
    assert {"pass", "unreadable"} <= outcomes
    assert check in SHOWN_ONLY or outcomes & {"fail", "warn"}


def test_ids_are_unique_and_every_recorded_folder_is_a_check() -> None:
    assert len(BY_ID) == len(CHECKS) == 17
    folders = {p.name for p in DATA.iterdir() if p.is_dir()} - {"powershell"}
    assert folders == set(BY_ID)
