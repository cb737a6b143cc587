"""Baselines (--baseline): an earlier run's results file, read back and validated into what
the comparison uses: per check (site, kind, endpoint), its outcome, layer and cause.

The file's other fields are not read, so a results file of the same schema version with more
fields is a baseline too. Every problem is a BaselineError of one line naming the file, the
record and the key, before any test runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netcheck import document
from netcheck.document import Invalid, Syntax, Table, checked, one_of
from netcheck.result import Outcome
from netcheck.results import SCHEMA, VERSION, Key, Record, change, key
from netcheck.textfile import InputError, read_text

# Versions whose records hold what a baseline is read for (outcome, layer, cause, the key).
READABLE = (1, VERSION)
OUTCOMES = tuple(o.value for o in Outcome)


class BaselineError(InputError):
    """A results file that cannot be used as a baseline; one line."""


Verdict = checked(one_of(OUTCOMES))


class Before(Table, forbid_unknown_fields=False, kw_only=True):
    """What the baseline says about one check."""

    site: str | None = None
    check: str | None
    endpoint: str | None
    outcome: Verdict
    layer: str | None = None
    cause: str | None = None

    @property
    def key(self) -> Key:
        return self.site, self.check, self.endpoint

    def verdict(self) -> Record:
        return {"outcome": self.outcome, "layer": self.layer, "cause": self.cause}


class ResultsFile(Table, forbid_unknown_fields=False, kw_only=True):
    schema: str
    version: int
    created: str = ""
    results: tuple[Before, ...]


@dataclass
class Baseline:
    path: Path
    created: str
    records: dict[Key, Before]

    def annotate(self, rec: Record) -> Record:
        """Fill in `change` and `baseline` (what the baseline said about this check)."""
        before = self.records.get(key(rec))
        rec["change"] = change(rec, before.verdict() if before else None)
        rec["baseline"] = before.verdict() if before else None
        return rec


def load(path: Path) -> Baseline:
    """The results file at `path` as a baseline; BaselineError (one line) if it is none."""
    try:
        data = document.parse(read_text(path), "JSON")
    except Syntax as exc:
        raise BaselineError(f"{path}: {exc}") from None
    except InputError as exc:  # read_text's message names the file
        raise BaselineError(str(exc)) from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise BaselineError(f"{path}: not a netcheck results file (no schema {SCHEMA!r})")
    if data.get("version") not in READABLE:
        raise BaselineError(
            f"{path}: results schema version {data.get('version')!r}, "
            f"this netcheck reads versions {', '.join(map(str, READABLE))}"
        )
    try:
        results = document.convert(data, ResultsFile)
    except Invalid as exc:
        raise BaselineError(f"{path}: {_explain(exc, data)}") from None
    return Baseline(path, results.created, {r.key: r for r in results.results})


def _explain(exc: Invalid, data: dict[str, Any]) -> str:
    """`results[3] (<test id>): key 'outcome' is missing`, or a top-level key's problem."""
    if len(exc.path) < 2 or exc.path[0] != "results" or not isinstance(data["results"], list):
        return exc.describe(0, table="object")
    index = exc.path[1]
    label = f"results[{index}]"
    record = data["results"][index]
    if isinstance(record, dict) and isinstance(record.get("id"), str):
        label += f" ({record['id']})"
    return f"{label}: {exc.describe(2, table='object')}"
