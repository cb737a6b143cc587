"""On the controlling pytest process: gather every check's record from the test reports
(xdist workers' included), write the results file, and show the diff with the baseline."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest

from netcheck import results
from netcheck.plugin.keys import SETTINGS
from netcheck.plugin.sites import Sites, settings, site


class Recorder:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.records: dict[str, results.Record] = {}  # by node id, in the order tests ran
        self.started = time.time()
        self.path = config.stash[SETTINGS].results

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        rec = getattr(report, "netcheck", None)
        if rec is None:
            return
        rec = self.records.setdefault(report.nodeid, rec)
        outcome = _test_outcome(report)
        if outcome and (rec["test_outcome"] in (None, "passed") or outcome == "error"):
            rec["test_outcome"] = outcome

    def sites(self) -> Sites | None:
        """The sites of a --dist each run (None for a run from one place)."""
        return self.config.pluginmanager.get_plugin("netcheck.sites")

    def diff(self) -> results.Diff | None:
        baseline = self.config.stash[SETTINGS].baseline
        return results.Diff.of(self.records.values(), baseline) if baseline else None

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.path is None or self.config.option.collectonly:
            return
        config = self.config
        s = config.stash[SETTINGS]
        baseline, profile = s.baseline, s.profile
        head: dict[str, Any] = {
            "created": datetime.fromtimestamp(self.started, UTC).isoformat(timespec="seconds"),
            "duration": round(time.time() - self.started, 3),
            "exit_status": int(exitstatus),
            "site": site(config),
            "profile": {"name": profile.name, "path": str(profile.path)},
            "settings": {
                **settings(config),
                "probe_timeout": s.timeout,
                "fail_on": s.fail_on,
            },
            "baseline": str(baseline.path) if baseline else None,
            "sites": sites.summary(self.records.values()) if (sites := self.sites()) else None,
        }
        results.write(self.path, head, list(self.records.values()))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        tr = terminalreporter
        if sites := self.sites():
            tr.section("netcheck: sites")
            counts = sites.matrix(self.records.values()).counts
            for one in sites.sites.values():
                line = ", ".join(
                    f"{n} {outcome}" for outcome, n in sorted(counts[one.name].items())
                )
                tr.line(f"{one.name:14} {line or 'no results'}")
                if one.error:
                    tr.line(f"{'':14} {one.error}", red=True)
        if diff := self.diff():
            baseline = self.config.stash[SETTINGS].baseline
            tr.section(f"netcheck: changes since {baseline.path} ({baseline.created})")
            for heading, line in diff.lines():
                tr.line(f"{heading.upper():14} {line}", red=heading == "newly fails")
            tr.line(diff.summary())
        if self.path and not self.config.option.collectonly:
            tr.line(f"netcheck: results written to {self.path}")


def _test_outcome(report: pytest.TestReport) -> str | None:
    """pytest's verdict as the record states it; None when this phase changes nothing."""
    if hasattr(report, "wasxfail"):
        return "xfailed" if report.skipped else "xpassed"
    if report.when == "call":
        return report.outcome
    if report.failed:
        return "error"
    return "skipped" if report.skipped else None
