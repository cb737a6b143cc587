"""Baselines: a results file is read back and validated before any test runs; a bad one is a
one-line BaselineError naming the file, the record and the key, never a crash mid-run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from netcheck import baseline, results

ID = "tests_network/test_firewall.py::test_firewall[a.example]"
RECORD = {
    "id": ID,
    "site": None,
    "check": "firewall",
    "endpoint": "a.example",
    "outcome": "fail",
    "layer": "tcp",
    "cause": "timeout",
    "required": True,
    "evidence": {"addresses": "192.0.2.1"},
}


def results_file(path: Path, records: Any = (RECORD,), **top: Any) -> Path:
    """A results file as netcheck writes it, with `top` replacing top-level fields."""
    data = {"schema": results.SCHEMA, "version": results.VERSION, "created": "2026-01-01"}
    path.write_text(json.dumps({**data, "results": records, **top}), encoding="utf-8")
    return path


def test_a_results_file_is_a_baseline_and_annotates_records(tmp_path: Path) -> None:
    extra = {**RECORD, "endpoint": "b.example", "outcome": "pass", "layer": None, "cause": None}
    base = baseline.load(results_file(tmp_path / "r.json", [RECORD, extra], future_field=1))
    assert base.created == "2026-01-01" and len(base.records) == 2
    now = {**RECORD, "layer": "dns", "cause": "dns_nxdomain", "change": None, "baseline": None}
    assert base.annotate(now)["change"] == results.CAUSE_CHANGED
    assert now["baseline"] == {"outcome": "fail", "layer": "tcp", "cause": "timeout"}
    new = {**RECORD, "endpoint": "c.example", "change": None, "baseline": None}
    assert base.annotate(new)["change"] == results.NEW_FAILURE and new["baseline"] is None


def deep(levels: int) -> Any:
    value: Any = "x"
    for _ in range(levels):
        value = [value]
    return value


BAD = [
    ("results an object", {"results": {}}, "key 'results' must be a list, not object"),
    ("a record holds {}", {"results": [{}]}, "results[0]: key 'check' is missing"),
    (
        "a record lacks outcome",
        {"results": [{k: v for k, v in RECORD.items() if k != "outcome"}]},
        f"results[0] ({ID}): key 'outcome' is missing",
    ),
    (
        "an unknown outcome",
        {"results": [{**RECORD, "outcome": "passed"}]},
        "key 'outcome': 'passed' is not one of pass, fail, warn, skip, error",
    ),
    (
        "a layer of the wrong type",
        {"results": [RECORD, {**RECORD, "layer": 3}]},
        "results[1] (" + ID + "): key 'layer' must be a string or null, not integer",
    ),
    ("a record not an object", {"results": ["x"]}, "results[0]: must be an object, not string"),
    ("created not a string", {"created": 5}, "key 'created' must be a string, not integer"),
    (
        "nested deep",
        {"results": [{**RECORD, "evidence": deep(40)}]},
        f"results[0] ({ID}): key 'evidence': nested deeper than 32 levels",
    ),
    (
        "half a surrogate pair",
        {"results": [{**RECORD, "endpoint": "a\udc80"}]},
        f"results[0] ({ID}): key 'endpoint': 'a\\udc80' holds half a surrogate pair",
    ),
    ("another schema", {"schema": "junit"}, "not a netcheck results file (no schema"),
    (
        "another version",
        {"version": 9},
        "results schema version 9, this netcheck reads versions 1, 2",
    ),
]


@pytest.mark.parametrize(("top", "message"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_baseline_is_one_line_naming_record_and_key(
    tmp_path: Path, top: dict[str, Any], message: str
) -> None:
    path = results_file(tmp_path / "bad.json", **top)
    with pytest.raises(baseline.BaselineError) as err:
        baseline.load(path)
    assert str(err.value).startswith(f"{path}: ") and message in str(err.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[" * 100_000 + "]" * 100_000, "JSON nested deeper than 32 levels"),
        ('{"schema": ', "JSON syntax error: Expecting value: line 1 column 12 (char 11)"),
        ('"x"', "not a netcheck results file (no schema 'netcheck-results')"),
        ("[]", "not a netcheck results file (no schema 'netcheck-results')"),
    ],
    ids=["thousands deep", "truncated", "a string", "a list"],
)
def test_unreadable_baselines(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(baseline.BaselineError) as err:
        baseline.load(path)
    assert str(err.value) == f"{path}: {message}"


def test_missing_baseline(tmp_path: Path) -> None:
    with pytest.raises(baseline.BaselineError, match=r"missing\.json: no such file$"):
        baseline.load(tmp_path / "missing.json")
