"""Results as data: one record per check, the results file, and the diff against a baseline
(netcheck.baseline reads a baseline).

The record is built where the test ran (an xdist worker, maybe) and travels on the pytest
report as a plain dict, so the controller can write the file and compare it with a baseline.
The schema is documented in docs/results-schema.md; bump VERSION on incompatible changes.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from netcheck.result import Result

if TYPE_CHECKING:
    from netcheck.baseline import Baseline

TIMING = re.compile(r" (?:after|in) \d+ ms$")  # an attempt's timing, in its evidence
SCHEMA, VERSION = "netcheck-results", 2
# Certificate evidence too bulky to repeat per record: kept once per certificate (by SHA-256).
CERTIFICATE_BLOBS = ("certificate_san", "certificate_chain")
FAILING = ("fail", "error")
PASSING = ("pass", "warn")  # a warning is a pass with a finding (Result.passed)

# What changed since the baseline, per record (None without a baseline).
NEW_FAILURE, NEW_PASS, CAUSE_CHANGED = "new_failure", "new_pass", "cause_changed"
UNCHANGED, NEW_CHECK = "unchanged", "new_check"

Record = dict[str, Any]
Key = tuple[str | None, str | None, str | None]  # site, check, endpoint


def record(
    nodeid: str, kind: str | None, target: Any, result: Result | None, site: str | None
) -> Record:
    """The facts of one check. `target` is the profile entry; `result` is None when the check
    never ran (skipped before probing: a wildcard without probe host, no domain given)."""
    evidence = dict(result.evidence) if result else {}
    addresses = evidence.get("addresses", "")
    certificate = {
        k.removeprefix("certificate_"): evidence.pop(k) for k in CERTIFICATE_BLOBS if k in evidence
    }
    target_text = getattr(target, "url", None) or getattr(target, "name", None)
    return {
        "id": nodeid,
        "site": site,
        "check": kind,
        "endpoint": getattr(target, "id", None),
        "target": target_text,
        "pattern": getattr(target, "pattern", "") or None,
        "category": getattr(target, "category", None),
        "service_area": getattr(target, "service_area", "") or None,
        "required": getattr(target, "required", None),
        "outcome": result.outcome.value if result else "skip",
        "layer": result.layer.value if result and result.layer else None,
        "cause": result.cause if result else None,
        "detail": result.detail if result else None,
        "advice": (result.advice or None) if result and result.outcome != "pass" else None,
        "probe_time": round(result.elapsed, 3) if result else None,
        "phases": {k: round(v, 4) for k, v in result.phases.items()} if result else {},
        "addresses": [a for a in addresses.split(", ") if a and a != "none"],
        "address": evidence.get("address"),
        "tried": tried(evidence, target_text),
        "proxy": evidence.get("proxy"),
        "evidence": evidence,
        # SANs and chain, written once per certificate in the file's `certificates` table
        "certificate": certificate or None,
        "test_outcome": None,  # filled in from pytest's reports
        "change": None,
        "baseline": None,
        "finding": None,  # the id of the finding that explains this check (netcheck.findings)
    }


def host_port(target: str | None) -> tuple[str, int | None]:
    """The host and port a target URL names; a DNS name or domain is its own host."""
    if not target or "://" not in target:
        return target or "", None
    parts = urlsplit(target)
    return parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)


def address_port(address: str, port: int | str | None) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def tried(evidence: dict[str, str], target: str | None) -> list[str]:
    """Each address:port a check tried and what became of it (`198.51.100.7:443 timeout`),
    from the probe's `attempts` evidence (timings left to the evidence), else the address it
    connected to (a proxy's)."""
    if attempts := evidence.get("attempts"):
        return [TIMING.sub("", a.strip()) for a in attempts.split(";") if a.strip()]
    if connected := evidence.get("address"):
        address, _, at = connected.partition(" port ")
        port = at.split()[0] if at else host_port(target)[1]
        return [f"{address_port(address, port)} connected"]
    return []


def key(rec: Record) -> Key:
    """Identical checks from several sites coexist: a check is (site, kind, endpoint id)."""
    return rec["site"], rec["check"], rec["endpoint"]


def junit_properties(rec: Record) -> list[tuple[str, str]]:
    """The record as JUnit XML properties: scalars by name, phases as time_<phase>."""
    names = ("check", "endpoint", "target", "category", "service_area", "required", "site")
    names += ("outcome", "layer", "cause", "detail", "probe_time", "address", "proxy")
    props = [(n, "" if rec[n] is None else str(rec[n])) for n in names]
    props.append(("addresses", ", ".join(rec["addresses"])))
    props.append(("tried", "; ".join(rec["tried"])))
    props += [(f"time_{phase}", f"{seconds:.4f}") for phase, seconds in rec["phases"].items()]
    if rec["change"]:
        props.append(("change", rec["change"]))
    return props


def change(rec: Record, before: Record | None) -> str:
    """How this record differs from the same check in the baseline."""
    if before is None:
        return NEW_FAILURE if rec["outcome"] in FAILING else NEW_CHECK
    now, then = rec["outcome"] in FAILING, before["outcome"] in FAILING
    if now and not then:
        return NEW_FAILURE
    if then and rec["outcome"] in PASSING:
        return NEW_PASS
    if now and (rec["layer"], rec["cause"]) != (before["layer"], before["cause"]):
        return CAUSE_CHANGED
    return UNCHANGED


def describe(rec: Record) -> str:
    """`fail at dns (dns_nxdomain)`, `pass`, ..."""
    if rec["layer"]:
        return f"{rec['outcome']} at {rec['layer']} ({rec['cause']})"
    return rec["outcome"]


@dataclass
class Diff:
    """What changed since the baseline: the records worth a line each, and counts."""

    new_failures: list[Record]
    new_passes: list[Record]
    cause_changed: list[Record]
    new_checks: int
    gone: list[Key]

    @classmethod
    def of(cls, records: Iterable[Record], baseline: Baseline) -> Diff:
        records = list(records)
        by: dict[str | None, list[Record]] = {}  # the records, by their change
        for rec in records:
            by.setdefault(rec["change"], []).append(rec)
        present = {key(r) for r in records}
        return cls(
            new_failures=by.get(NEW_FAILURE, []),
            new_passes=by.get(NEW_PASS, []),
            cause_changed=by.get(CAUSE_CHANGED, []),
            new_checks=len(by.get(NEW_CHECK, [])),
            gone=[k for k in baseline.records if k not in present],
        )

    def lines(self) -> list[tuple[str, str]]:
        """(heading, line) pairs for the terminal and the HTML report."""
        out = []
        for rec in self.new_failures:
            was = describe(rec["baseline"]) if rec["baseline"] else "not in the baseline"
            out.append(("newly fails", f"{_name(rec)}: {describe(rec)}; was {was}"))
        for rec in self.cause_changed:
            out.append(
                ("changed cause", f"{_name(rec)}: {describe(rec)}; was {describe(rec['baseline'])}")
            )
        for rec in self.new_passes:
            out.append(("newly passes", f"{_name(rec)}: was {describe(rec['baseline'])}"))
        return out

    def summary(self) -> str:
        return (
            f"{len(self.new_failures)} newly failing ("
            f"{sum(r['required'] for r in self.new_failures)} required), "
            f"{len(self.new_passes)} newly passing, {len(self.cause_changed)} changed cause, "
            f"{self.new_checks} new checks, {len(self.gone)} no longer run"
        )


def _name(rec: Record) -> str:
    required = "required" if rec["required"] else "optional"
    site = f"@{rec['site']} " if rec["site"] else ""
    return f"{site}{rec['check']} {rec['endpoint']} [{required}]"


def certificates(records: Iterable[Record]) -> dict[str, dict[str, str]]:
    """Each certificate's bulky evidence once, by its SHA-256."""
    return {
        r["evidence"]["certificate_sha256"]: r["certificate"]
        for r in records
        if r["certificate"] and "certificate_sha256" in r["evidence"]
    }


def document(head: dict[str, Any], records: list[Record]) -> dict[str, Any]:
    """The results file's content: `head` (run facts, findings) and the records, whose
    certificates are written once in `certificates` and named by SHA-256 in each record."""
    counts = Counter(r["test_outcome"] or "not run" for r in records)  # a test cut short
    return {
        "schema": SCHEMA,
        "version": VERSION,
        **head,
        "summary": dict(sorted(counts.items())),
        "certificates": certificates(records),
        "results": [{**r, "certificate": r["evidence"].get("certificate_sha256")} for r in records],
    }
