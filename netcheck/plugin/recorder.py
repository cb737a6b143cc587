"""On the controlling pytest process: gather every check's record from the test reports
(xdist workers' included), group the failures into findings, write the results file, and
show the findings and the diff with the baseline in the terminal."""

from __future__ import annotations

import html
import json
import os
import platform
import re
import shlex
import socket
import textwrap
import time
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

import pytest

from netcheck import findings, metrics, results
from netcheck.output import write_atomically
from netcheck.plugin.keys import SETTINGS
from netcheck.plugin.sites import Sites, settings, site

SHOWN = 4  # checks, destinations per finding in the terminal; the HTML report has them all


def netcheck_version() -> str:
    try:
        return package_version("netcheck")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


def quiet_tracebacks(config: pytest.Config) -> bool:
    """netcheck's findings replace pytest's block per failed test (whose summary rescans
    every report for each failure) unless --tb was given: on the command line, in
    PYTEST_ADDOPTS or in the ini file's addopts. Whether it did."""
    given = [*config.invocation_params.args, *config.getini("addopts")]
    given += shlex.split(os.environ.get("PYTEST_ADDOPTS", ""))
    if any(str(arg).startswith("--tb") for arg in given):
        return False
    config.option.tbstyle = "no"
    return True


class Recorder:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.records: dict[str, results.Record] = {}  # by node id, in the order tests ran
        self.started = time.time()
        self.path = config.stash[SETTINGS].results
        self.ran = 0  # tests that ran (netcheck's or not): none, and no file is replaced
        self.findings: list[findings.Finding] = []
        self.messages: list[tuple[str, bool]] = []  # (line, is an error) for the terminal
        self.quiet = quiet_tracebacks(config)  # errors are then shown here (errors())

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.ran += report.when == "setup"
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

    def tested(self) -> bool:
        """Whether this run tested anything (not --collect-only, something was selected)."""
        return self.ran > 0 and not self.config.option.collectonly

    def verdict(self) -> findings.Verdict:
        purpose = self.config.stash[SETTINGS].profile.name
        return findings.verdict(purpose, self.records.values(), self.findings)

    @pytest.hookimpl(tryfirst=True, specname="pytest_sessionfinish")
    def pytest_sessionfinish_findings(self) -> None:
        """Findings first, before the HTML report and JUnit XML are written."""
        resolvers: dict[str | None, str] = {site(self.config): settings(self.config)["resolver"]}
        if sites := self.sites():
            resolvers |= {
                s.name: s.settings["resolver"] for s in sites.sites.values() if s.settings
            }
        self.findings = findings.compute(self.records.values(), resolvers)
        for finding in self.findings:
            for check in finding.checks:
                self.records[check]["finding"] = finding.id

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, exitstatus: int) -> None:
        if self.tested():
            try:
                junit_findings(self.config, findings.by_check(self.findings))
            except OSError as exc:
                self.messages.append((f"could not add the findings to the JUnit XML: {exc}", True))
        s = self.config.stash[SETTINGS]
        if not self.tested():
            for kept in (self.path, s.metrics):
                if kept:
                    self.messages.append((f"no check ran: {kept} kept as it was", False))
            return
        head = self.head(exitstatus)
        records = list(self.records.values())
        if self.path:
            text = json.dumps(results.document(head, records), indent=1) + "\n"
            try:
                write_atomically(self.path, text)
            except OSError as exc:
                self.messages.append((f"could not write the results file {self.path}: {exc}", True))
            else:
                self.messages.append((f"results written to {self.path}", False))
        if s.metrics:
            try:
                metrics.write(s.metrics, metrics.render(head, records))
            except metrics.MetricsError as exc:
                self.messages.append((str(exc), True))
            else:
                self.messages.append((f"metrics written to {s.metrics}", False))

    def head(self, exitstatus: int) -> dict[str, Any]:
        """The results file's top level: the run, where it ran, what it found."""
        s = self.config.stash[SETTINGS]
        return {
            "created": datetime.fromtimestamp(self.started, UTC).isoformat(timespec="seconds"),
            "duration": round(time.time() - self.started, 3),
            "exit_status": int(exitstatus),
            "netcheck": netcheck_version(),
            "host": {"name": socket.gethostname(), "platform": platform.platform()},
            "site": site(self.config),
            "profile": {"name": s.profile.name, "path": str(s.profile.path)},
            "settings": {**settings(self.config), "probe_timeout": s.timeout, "fail_on": s.fail_on},
            "baseline": str(s.baseline.path) if s.baseline else None,
            "sites": sites.summary(self.records.values()) if (sites := self.sites()) else None,
            "verdict": {"ok": (v := self.verdict()).ok, "text": v.text},
            "findings": [f.as_dict() for f in self.findings],
        }

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        tr = terminalreporter
        if self.quiet:
            self.errors(tr)
        if self.tested() and self.records:
            self._findings(tr)
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
        for line, error in self.messages:
            tr.line(f"netcheck: {line}", red=error, bold=error)

    def errors(self, tr: Any) -> None:
        """What --tb=no would hide but is no network finding: collection errors, errors
        in a test's setup or teardown (a bug), failures of tests that are not checks (an
        xdist worker that crashed, a test of one's own), with their tracebacks."""
        failed = [r for r in tr.stats.get("failed", []) if not hasattr(r, "netcheck")]
        for title, reports in (("ERRORS", tr.stats.get("error", [])), ("FAILURES", failed)):
            if reports:
                tr.section(title)
            for rep in reports:
                tr.write_sep("_", f"{title[:-1]} at {rep.when} of {rep.nodeid}", red=True)
                rep.toterminal(tr._tw)

    def _findings(self, tr: Any) -> None:
        """The verdict, then one block per finding: what, the fix, the checks it explains."""
        verdict = self.verdict()
        tr.section("netcheck: findings")
        tr.line(verdict.text, green=verdict.ok, red=not verdict.ok, bold=True)
        width = max(60, tr._tw.fullwidth - 6) if hasattr(tr, "_tw") else 94
        for f in self.findings[: findings.SHOWN_IN_FULL]:
            new = " NEW" if f.new else ""
            tr.line(f"{f.id} [{f.severity}{new}] {f.headline}", red=f.severity == "blocking")
            tried = findings.some(f.tried, SHOWN)
            for label, text in (("hit", f.hit), ("tried", tried), ("fix", f.advice)):
                if text:
                    tr.line(
                        textwrap.fill(
                            f"{label}: {text}",
                            width,
                            initial_indent="   ",
                            subsequent_indent="     ",
                        )
                    )
            names = [c.rpartition("::")[2] for c in f.checks]
            tr.line(f"   {findings.plural(len(names), 'check')}: {findings.some(names, SHOWN)}")
        if (more := len(self.findings) - findings.SHOWN_IN_FULL) > 0:
            tr.line(f"... and {more} more findings: see the HTML report or the results file")


# An opening testcase tag as pytest writes it, and its properties element if it has one.
TESTCASE = re.compile(r'<testcase classname="([^"]*)" name="([^"]*)"[^>]*(?<!/)>(<properties>)?')


def junit_findings(config: pytest.Config, by_check: dict[str, findings.Finding]) -> None:
    """A `finding` property for every testcase a finding explains, added to the JUnit XML
    pytest has written (findings need every test's result; testcases are final sooner).
    Edited as text: parsing and writing back a large file costs a second or more."""
    from _pytest.junitxml import mangle_test_address, xml_key

    xml = config.stash.get(xml_key, None)
    if xml is None or not by_check or not os.path.exists(xml.logfile):
        return
    ids = {}
    for check, finding in by_check.items():
        *module, name = mangle_test_address(check)
        ids[(".".join(module), name)] = finding.id

    def add(case: re.Match[str]) -> str:
        fid = ids.get((html.unescape(case[1]), html.unescape(case[2])))
        if fid is None:
            return case[0]
        prop = f'<property name="finding" value="{fid}" />'
        return f"{case[0]}{prop}" if case[3] else f"{case[0]}<properties>{prop}</properties>"

    path = Path(xml.logfile)
    write_atomically(path, TESTCASE.sub(add, path.read_text(encoding="utf-8")))


def _test_outcome(report: pytest.TestReport) -> str | None:
    """pytest's verdict as the record states it; None when this phase changes nothing."""
    if hasattr(report, "wasxfail"):
        return "xfailed" if report.skipped else "xpassed"
    if report.when == "call":
        return report.outcome
    if report.failed:
        return "error"
    return "skipped" if report.skipped else None
