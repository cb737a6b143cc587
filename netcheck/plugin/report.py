"""pytest-html integration: default report path, environment rows, columns, evidence.

pytest-html inserts cells and environment values as raw HTML: everything that comes from
a profile or from the network is escaped here.
"""

from __future__ import annotations

import platform
from html import escape

import pytest
from pytest_html import extras

from netcheck.advice import advice_for
from netcheck.baseline import Baseline
from netcheck.plugin.keys import RESULT, SETTINGS, SYSTEM_PROXY
from netcheck.plugin.sites import Matrix, Site, verdict
from netcheck.result import Result
from netcheck.results import Diff

COLUMNS = ("check", "endpoint", "layer", "cause", "address", "proxy", "probe_time")
MATRIX_CSS = (
    ".netcheck-matrix td, .netcheck-matrix th {border: 1px solid #ccc; padding: 2px 6px}"
    " .netcheck-failed, .netcheck-error, .netcheck-site-error {color: #b00}"
    " .netcheck-xfailed {color: #a60} .netcheck-not-run, .netcheck-skipped {color: #777}"
    " .netcheck-site-about {font-weight: normal; font-size: smaller}"
)


def configure(config: pytest.Config) -> None:
    """Write a self-contained reports/report.html under the rootdir unless --html says where.

    Self-contained always: reports travel by mail and ticket attachments.
    """
    if not config.option.htmlpath:
        config.option.htmlpath = str(config.rootpath / "reports" / "report.html")
    config.option.self_contained_html = True


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


def pytest_html_results_summary(
    prefix: list[str], summary: list[str], postfix: list[str], session: pytest.Session
) -> None:
    profile = session.config.stash[SETTINGS].profile
    prefix.append(
        f"<p>Profile: <b>{escape(profile.name)}</b>. {escape(profile.description)} "
        "Open a failed row to see the evidence and what to do. Expected failures are optional "
        "checks that failed (or, with --fail-on=new-required-failures, failures the baseline "
        "already had): reported, but they do not fail the run.</p>"
    )
    recorder = session.config.pluginmanager.get_plugin("netcheck.recorder")
    if recorder and (diff := recorder.diff()):
        prefix.insert(0, diff_html(diff, session.config.stash[SETTINGS].baseline))
    if recorder and (sites := recorder.sites()):
        matrix = sites.matrix(recorder.records.values())
        prefix.insert(0, matrix_html(matrix, list(sites.sites.values())))


def diff_html(diff: Diff, baseline: Baseline) -> str:
    rows = "".join(
        f'<tr class="netcheck-{heading.replace(" ", "-")}"><th>{escape(heading)}</th>'
        f"<td>{escape(line)}</td></tr>"
        for heading, line in diff.lines()
    )
    return (
        f'<div class="netcheck-diff"><h2>Changes since the baseline</h2>'
        f"<p>Baseline: {escape(str(baseline.path))} ({escape(baseline.created)}). "
        f"{escape(diff.summary())}.</p><table>{rows}</table></div>"
    )


def matrix_html(matrix: Matrix, sites: list[Site]) -> str:
    """Endpoint by site: each cell the verdict with its layer and cause (title: the detail);
    a header per site with its counts, resolver and proxy, or why it gave no results."""
    known = {s.name: s for s in sites}
    head = ""
    for name in matrix.sites:
        site = known.get(name)
        counts = ", ".join(f"{n} {o}" for o, n in sorted(matrix.counts[name].items()))
        about = [counts or "no results"]
        if site and site.settings:
            about += [f"resolver {site.settings['resolver']}", f"proxy {site.settings['proxy']}"]
        error = (
            f'<div class="netcheck-site-error">{escape(site.error)}</div>'
            if site and site.error
            else ""
        )
        head += (
            f'<th data-site="{escape(name)}">{escape(name)}<div class="netcheck-site-about">'
            f"{escape('; '.join(about))}</div>{error}</th>"
        )
    rows = ""
    for check, endpoint in matrix.rows:
        cells = ""
        for name in matrix.sites:
            rec = matrix.cell(check, endpoint, name)
            outcome = (rec["test_outcome"] or rec["outcome"]) if rec else "not-run"
            title = f' title="{escape(rec["detail"])}"' if rec and rec["detail"] else ""
            cells += f'<td class="netcheck-{escape(outcome)}"{title}>{escape(verdict(rec))}</td>'
        rows += f"<tr><th>{escape(check)}</th><th>{escape(endpoint)}</th>{cells}</tr>"
    return (
        f'<div class="netcheck-matrix"><style>{MATRIX_CSS}</style>'
        "<h2>Every check at every site</h2>"
        f"<p>{len(matrix.rows)} checks at {len(matrix.sites)} sites.</p><table>"
        f"<tr><th>check</th><th>endpoint</th>{head}</tr>{rows}</table></div>"
    )


def pytest_html_results_table_header(cells: list[str]) -> None:
    cells[2:2] = [
        f'<th class="sortable" data-column-type="{c}">{c.replace("_", " ")}</th>' for c in COLUMNS
    ]


def pytest_html_results_table_row(report: pytest.TestReport, cells: list[str]) -> None:
    props = dict(report.user_properties)
    cells[1] = f'<td class="col-testId">{escape(report.nodeid)}</td>'
    if props.get("probe_time"):
        props["probe_time"] = f"{float(props['probe_time']) * 1000:.0f} ms"
    cells[2:2] = [f'<td class="col-{c}">{escape(str(props.get(c, "")))}</td>' for c in COLUMNS]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport:
    report: pytest.TestReport = yield
    result = item.stash.get(RESULT, None)
    if result and report.when == "call":
        report.extras = [*getattr(report, "extras", []), extras.html(evidence_html(result))]
    return report


def evidence_html(result: Result) -> str:
    rows = [("outcome", result.outcome.value), ("detail", result.detail)]
    if result.layer:
        rows.append(("failed at", f"{result.layer} ({result.cause})"))
    rows += list(result.evidence.items())
    rows += [
        (f"time {phase}", f"{seconds * 1000:.0f} ms") for phase, seconds in result.phases.items()
    ]
    table = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows)
    advice = advice_for(result.check, result.cause)
    fix = f"<p><b>What to do:</b> {escape(advice)}</p>" if advice else ""
    return f'<div class="netcheck">{fix}<table>{table}</table></div>'
