"""pytest-html integration: the report's path, environment rows, columns, evidence, and
netcheck's findings on top (netcheck.plugin.page).

pytest-html inserts cells and environment values as raw HTML: everything that comes from
a profile or from the network is escaped here. pytest-html writes into a private temporary
directory; at the end of a run that tested something, the report replaces the one at the
chosen path in one step (a run that tests nothing keeps the last report).
"""

from __future__ import annotations

import platform
import shutil
import tempfile
from html import escape
from pathlib import Path

import pytest
from pytest_html import extras
from pytest_html.basereport import BaseReport

from netcheck.output import write_atomically
from netcheck.plugin import page
from netcheck.plugin.keys import HTML_REPORT, RESULT, SETTINGS, SYSTEM_PROXY
from netcheck.result import Result
from netcheck.results import CERTIFICATE_BLOBS, certificates

COLUMNS = ("check", "layer", "cause", "address", "proxy", "probe_time")


def configure(config: pytest.Config) -> None:
    """Write a self-contained reports/report.html under the rootdir unless --html says where.

    Self-contained always: reports travel by mail and ticket attachments.
    """
    final = Path(config.option.htmlpath or config.rootpath / "reports" / "report.html")
    config.option.self_contained_html = True
    if hasattr(config, "workerinput"):  # an xdist worker writes no report
        return
    scratch = Path(tempfile.mkdtemp(prefix="netcheck-report-"))
    config.stash[HTML_REPORT] = (final.absolute(), scratch / final.name)
    config.option.htmlpath = str(scratch / final.name)


def pytest_sessionstart(session: pytest.Session) -> None:
    """Environment rows: what this run used to reach the network."""
    from pytest_metadata.plugin import metadata_key

    config = session.config
    s = config.stash[SETTINGS]
    profile, network = s.profile, s.network
    rows = {
        "Profile": f"{profile.name} ({profile.path})",
        "Resolver": network.describe_resolver(),
        "Proxy": network.describe_proxy(),
        **config.stash[SYSTEM_PROXY],
        "Address families": s.family_text,
        "Trust store": network.trust.describe(),
        "Probe timeout": f"{s.timeout:g} s",
        "Platform": platform.platform(),
    }
    metadata = config.stash[metadata_key]
    for secret in [k for k in metadata if "proxy" in k.lower()]:
        del metadata[secret]  # environment dumps could carry proxy credentials
    metadata.update(rows)
    for key, value in metadata.items():  # other plugins' and --metadata values too
        metadata[key] = _escaped(value)


def _escaped(value: object) -> object:
    """pytest-html renders environment values (and the keys of nested tables) as HTML."""
    if isinstance(value, dict):
        return {escape(str(k)): _escaped(v) for k, v in value.items()}
    return escape(str(value))


def pytest_html_report_title(report) -> None:
    report.title = "netcheck report"
    if report.config.getini("render_collapsed") == "passed":  # pytest-html's default
        report.set_data("renderCollapsed", ["all"])  # every row closed: findings say what failed


def pytest_html_results_summary(
    prefix: list[str], summary: list[str], postfix: list[str], session: pytest.Session
) -> None:
    recorder = session.config.pluginmanager.get_plugin("netcheck.recorder")
    if not recorder:
        return
    records = list(recorder.records.values())
    profile = session.config.stash[SETTINGS].profile
    about = (
        f"Profile <b>{escape(profile.name)}</b>: {escape(profile.description)} Expected failures "
        "are optional checks that failed (or, with --fail-on=new-required-failures, failures "
        "the baseline already had): reported, but they do not fail the run."
    )
    prefix.append(page.findings_html(recorder.verdict(), recorder.findings, records, about))
    prefix.append(page.machine_html(records, recorder.findings))
    if diff := recorder.diff():
        prefix.append(page.diff_html(diff, session.config.stash[SETTINGS].baseline))
    if sites := recorder.sites():
        matrix = sites.matrix(records)
        prefix.append(page.matrix_html(matrix, list(sites.sites.values())))
    postfix.append(page.certificates_html(certificates(records)))


def pytest_html_results_table_header(cells: list[str]) -> None:
    del cells[2:]  # pytest-html's duration (probe_time says it) and links (none)
    cells += [
        f'<th class="sortable" data-column-type="{c}">{c.replace("_", " ")}</th>' for c in COLUMNS
    ]


def pytest_html_results_table_row(report: pytest.TestReport, cells: list[str]) -> None:
    rec = getattr(report, "netcheck", None) or {}
    name = report.nodeid.rpartition("::")[2]  # the filter (netcheck.plugin.page) relies on it
    cells[1] = f'<td class="col-testId" title="{escape(report.nodeid)}">{escape(name)}</td>'
    values = {c: rec.get(c) or "" for c in COLUMNS}
    if not values["address"] and rec.get("tried"):  # refused, timed out: what was tried
        values["address"] = "; ".join(rec["tried"])
    if values["probe_time"]:
        values["probe_time"] = f"{float(values['probe_time']) * 1000:.0f} ms"
    del cells[2:]
    cells += [f'<td class="col-{c}">{escape(str(v))}</td>' for c, v in values.items()]


def pytest_html_results_table_html(report: pytest.TestReport, data: list[str]) -> None:
    """A check's explanation is its evidence and advice (in the row's extras): its log
    would only repeat them."""
    if getattr(report, "netcheck", None) and report.when == "call":
        data.clear()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport:
    report: pytest.TestReport = yield
    result = item.stash.get(RESULT, None)
    if result and report.when == "call":
        report.extras = [*getattr(report, "extras", []), extras.html(evidence_html(result))]
    return report


def evidence_html(result: Result) -> str:
    """One check's detail, advice and evidence, once; certificates by reference."""
    rows = [("detail", result.detail)]
    rows += [(k, v) for k, v in result.evidence.items() if k not in CERTIFICATE_BLOBS]
    rows += [(f"time {phase}", f"{s * 1000:.0f} ms") for phase, s in result.phases.items()]
    table = "".join(f"<tr><th>{escape(k)}</th><td>{_value(k, v)}</td></tr>" for k, v in rows)
    advice = result.advice if result.outcome != "pass" else ""
    fix = f"<p><b>What to do:</b> {escape(advice)}</p>" if advice else ""
    return f'<div class="netcheck">{fix}<table>{table}</table></div>'


def _value(key: str, value: str) -> str:
    """An evidence value as HTML; a certificate's fingerprint links to its names and chain."""
    if key == "certificate_sha256":
        return f'<a href="#cert-{escape(value)}">{escape(value)}</a>'
    return escape(value)


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> object:
    """Once pytest-html has written into its scratch directory: put the report in place,
    unless the run tested nothing. A failed write is one line; the run's exit status stays."""
    outcome = yield
    config = session.config
    recorder = config.pluginmanager.get_plugin("netcheck.recorder")
    if HTML_REPORT not in config.stash or recorder is None:  # an xdist worker
        return outcome
    final, scratch = config.stash[HTML_REPORT]
    assert scratch is not None
    for plugin in config.pluginmanager.get_plugins():  # its terminal line names the scratch
        if isinstance(plugin, BaseReport):
            config.pluginmanager.unregister(plugin)
    line, failed = f"HTML report: {final}", False
    if not recorder.tested():
        line = f"no check ran: {final} kept as it was"
    else:
        try:
            write_atomically(final, scratch.read_text(encoding="utf-8"))
        except OSError as exc:
            line, failed = f"could not write the HTML report {final}: {exc} (kept: {scratch})", True
    recorder.messages.append((line, failed))
    if failed:  # the report stays where it was drafted, as the line says
        config.stash[HTML_REPORT] = (final, None)
    return outcome


def pytest_unconfigure(config: pytest.Config) -> None:
    if (scratch := config.stash.get(HTML_REPORT, (None, None))[1]) is not None:
        shutil.rmtree(scratch.parent, ignore_errors=True)
