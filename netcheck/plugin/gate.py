"""The CI gate: which failing checks fail the run (--fail-on)."""

from __future__ import annotations

from netcheck import results
from netcheck.result import Outcome


def tolerated(fail_on: str, rec: results.Record) -> str | None:
    """Why this failed check does not fail the run under --fail-on, or None if it does."""
    if fail_on == "any" or rec["outcome"] != Outcome.FAIL:
        return None  # an internal error is netcheck's bug: it always fails the run
    failure = f"{results.describe(rec)}: {rec['detail']}"
    if not rec["required"]:
        return f"optional check failed: {failure}"
    if fail_on == "new-required-failures" and rec["change"] != results.NEW_FAILURE:
        return f"known failure (baseline: {results.describe(rec['baseline'])}): {failure}"
    return None
