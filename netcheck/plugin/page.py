"""The netcheck parts of the HTML report: the verdict and findings, the picture (endpoints
by layer), the table filter, the certificates, the baseline diff and the site matrix.

Plain functions from records and findings to HTML strings. Everything that comes from a
profile or from the network is escaped; the filter's data is JSON that cannot close its
script element.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from html import escape

from netcheck.baseline import Baseline
from netcheck.findings import LAYERS, SHOWN_IN_FULL, Finding, Verdict, plural, some
from netcheck.host import CHECKS as HOST_CHECKS
from netcheck.plugin.sites import Matrix, Site, verdict
from netcheck.results import FAILING, Diff, Record, host_port

PICTURE_ROWS = 40  # destinations drawn; the failing ones first
PHASE_LAYERS = {"resolve": "dns", "connect": "tcp", "proxy": "proxy", "tls": "tls", "http": "http"}
STATES = ("fail", "warn", "pass", "none")  # worst first
STYLE = """
body {display: flex; flex-direction: column; color: #333}
.summary {display: contents} .summary > * {flex: none} .summary__spacer {display: none}
body > *, .summary > * {order: 1} .additional-summary.postfix {order: 2}
#environment-header, #environment {order: 3} footer {order: 4}
.summary__data > h2, p.filter {display: none}
#results-table {table-layout: fixed; color: #333}
#results-table tbody {content-visibility: auto; contain-intrinsic-size: auto 30px}
#results-table td {overflow-wrap: anywhere; vertical-align: top}
#results-table th[data-column-type=result] {width: 6em}
#results-table th[data-column-type=check] {width: 5em}
#results-table th[data-column-type=layer] {width: 4em}
#results-table th[data-column-type=cause] {width: 12em}
#results-table th[data-column-type=address] {width: 22%}
#results-table th[data-column-type=proxy] {width: 12%}
#results-table th[data-column-type=probe_time] {width: 5.5em}
.netcheck {font-size: 13px; color: #222}
.nc-verdict {font-size: 18px; font-weight: bold; margin: 4px 0 8px; padding: 6px 10px;
  border-left: 6px solid}
.nc-verdict.nc-ok {border-color: #2a7; background: #eefaf2}
.nc-verdict.nc-bad {border-color: #c22; background: #fdeeee}
.nc-findings {margin: 0; padding: 0; list-style: none}
.nc-finding {margin: 0 0 6px; padding: 3px 8px; border-left: 4px solid #c22}
.nc-finding.nc-optional {border-color: #d80} .nc-finding.nc-warning {border-color: #aa0}
.nc-finding p {margin: 1px 0; color: #333}
.nc-id {font-weight: bold} .nc-lc {font-family: monospace; background: #eee; padding: 0 3px}
.nc-new {background: #c22; color: #fff; padding: 0 4px; border-radius: 3px; font-size: 11px}
.nc-tried, .nc-detail {color: #666 !important; font-size: 12px}
.nc-sev {color: #777; font-size: 11px; text-transform: uppercase}
.nc-picture table {border-collapse: collapse; font-size: 11px}
.nc-picture td, .nc-picture th {padding: 0 4px; border: 1px solid #fff; white-space: nowrap}
.nc-machine td {white-space: normal; max-width: 60em}
.nc-picture td.nc-cell {width: 4.5em; text-align: center}
.nc-pass {background: #bfe5c8} .nc-fail {background: #f2a5a5} .nc-warn {background: #f5dc8c}
.nc-none {background: #f1f1f1; color: #aaa}
.nc-columns {display: flex; gap: 24px; align-items: flex-start; flex-wrap: wrap}
.nc-filter {margin: 6px 0}
details.nc-more > summary {cursor: pointer; color: #555}
.netcheck-matrix td, .netcheck-matrix th {border: 1px solid #ccc; padding: 2px 6px}
.netcheck-failed, .netcheck-error, .netcheck-site-error {color: #b00}
.netcheck-xfailed {color: #a60} .netcheck-not-run, .netcheck-skipped {color: #777}
.netcheck-site-about {font-weight: normal; font-size: smaller}
.netcheck-diff th {text-align: left; padding-right: 1em}
.netcheck-newly-fails th {color: #b00} .netcheck-newly-passes th {color: #2a7}
.netcheck-changed-cause th {color: #a60}
"""
# Shows only the rows of one finding, layer or cause; applied again whenever pytest-html
# redraws the table (sorting, its outcome filter).
FILTER_JS = """
(() => {
  const checks = JSON.parse(document.getElementById('nc-data').textContent);
  const select = document.getElementById('nc-filter');
  let filtered = false;
  const apply = () => {
    if (!select.value && !filtered) return;  // nothing hidden, nothing to show
    filtered = !!select.value;
    const [kind, key] = select.value.split(/:(.*)/s);
    const ids = kind === 'finding' ? new Set(checks[key]) : null;
    const text = (row, col) => (row.querySelector('td.col-' + col) || {}).textContent;
    document.querySelectorAll('#results-table tbody.results-table-row').forEach((row) => {
      const show = !kind || (ids ? ids.has(row.id) : text(row, kind) === key);
      row.style.display = show ? '' : 'none';
    });
  };
  const reveal = () => ['failed', 'xfailed', 'error'].forEach((outcome) => {
    const box = document.querySelector(`input[data-test-result="${outcome}"]`);
    if (box && !box.checked && !box.disabled) box.click();  // pytest-html draws those rows
  });
  select.addEventListener('change', () => { reveal(); apply(); });
  document.querySelectorAll('a[data-finding]').forEach((a) => a.addEventListener('click', () => {
    select.value = 'finding:' + a.dataset.finding;
    reveal();
    apply();
  }));
  new MutationObserver(apply).observe(document.body, {childList: true});
})();
"""


# Before pytest-html draws its table (about 1 ms a row): in a large run, only the rows of
# outcomes with few rows are drawn at first; the others once their box is ticked, as
# pytest-html's own filter does (it keeps the choice in the URL).
ROWS_LATER = """<script>
if (!new URLSearchParams(location.search).has('visible')) {
  history.replaceState(null, '', '?visible=%s');
}
</script>"""
LARGE = 500  # rows: in a larger run, outcomes with more rows than this are drawn on demand


def script_json(data: object) -> str:
    """JSON safe inside a script element: no '<', '>' or '&' survives literally."""
    text = json.dumps(data)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def findings_html(
    verdict_: Verdict, findings: list[Finding], records: list[Record], about_html: str
) -> str:
    """The verdict, the findings (each with its fix once), the picture and the filter;
    `about_html` says what was checked."""
    items = "".join(_finding_html(f) for f in findings[:SHOWN_IN_FULL])
    if rest := findings[SHOWN_IN_FULL:]:
        lines = "".join(
            f'<li id="finding-{f.id}">{f.id} {escape(f.headline)} &middot; '
            f'<a href="#results-table" data-finding="{f.id}">show</a></li>'
            for f in rest
        )
        items += (
            f'<details class="nc-more"><summary>{len(rest)} more problems</summary>'
            f"<ul>{lines}</ul></details>"
        )
    state = "nc-ok" if verdict_.ok else "nc-bad"
    later = ""
    if len(records) > LARGE:
        failing = sum(r["outcome"] in FAILING for r in records)
        later = ROWS_LATER % ("failed,error,xfailed,xpassed" if failing <= LARGE else "error")
        about_html += " This run is large: tick an outcome above the table to list its checks."
    return (
        f'<div class="netcheck">{later}<style>{STYLE}</style>'
        f'<p class="nc-verdict {state}">{escape(verdict_.text)}</p>'
        f'<ol class="nc-findings">{items}</ol>'
        f'<div class="nc-columns">{picture_html(records, findings)}<div>'
        f'<p class="nc-detail">{about_html}</p>{filter_html(findings, records)}</div></div></div>'
    )


def _finding_html(f: Finding) -> str:
    new = ' <span class="nc-new">new</span>' if f.new else ""
    checks = plural(len(f.checks), "check")
    show = f'<a href="#results-table" data-finding="{f.id}">show {checks}</a>'
    tried = f'<p class="nc-tried">tried {escape(some(f.tried, 12))}</p>' if f.tried else ""
    hit = f'<p class="nc-tried">{escape(f.hit)}</p>' if f.hit else ""
    fix = f"<p><b>Fix:</b> {escape(f.advice)}</p>" if f.advice else ""
    return (
        f'<li class="nc-finding nc-{f.severity}" id="finding-{f.id}"><p>'
        f'<span class="nc-id">{f.id}</span> <span class="nc-sev">{f.severity}</span> '
        f'<span class="nc-lc">{escape(f.layer)} / {escape(f.cause)}</span> '
        f"<b>{escape(f.headline.partition(': ')[2])}</b>{new} &middot; {show}</p>"
        f'<p class="nc-detail">{escape(f.detail)}</p>{hit}{tried}{fix}</li>'
    )


def layer_states(rec: Record) -> dict[str, str]:
    """How far one check got, layer by layer: pass, fail, warn or none (not reached)."""
    states = dict.fromkeys(LAYERS, "none")
    for phase in rec["phases"]:
        if layer := PHASE_LAYERS.get(phase):
            states["proxy" if layer == "tcp" and rec["proxy"] else layer] = "pass"
    if rec["outcome"] == "pass":  # a check of DNS records alone times no phase
        states["content" if "http" in rec["phases"] else "dns"] = "pass"
    if rec["layer"] in states:
        states[rec["layer"]] = "warn" if rec["outcome"] == "warn" else "fail"
    return states


def picture_html(records: Iterable[Record], findings: list[Finding]) -> str:
    """Endpoints by layer, each cell coloured by its worst outcome there."""
    rows: dict[str, dict[str, str]] = defaultdict(lambda: dict.fromkeys(LAYERS, "none"))
    ids: dict[str, dict[str, None]] = defaultdict(dict)
    finding_of = {c: f.id for f in findings for c in f.checks}
    for rec in records:
        if rec["outcome"] == "skip" or rec["check"] == "host":  # no endpoint: see machine_html
            continue
        host = host_port(rec["target"])[0] or str(rec["endpoint"])
        name = f"{host}@{rec['site']}" if rec["site"] else host
        for layer, state in layer_states(rec).items():
            if STATES.index(state) < STATES.index(rows[name][layer]):
                rows[name][layer] = state
        if fid := finding_of.get(rec["id"]):
            ids[name][fid] = None
    if not rows:
        return ""
    order = sorted(rows, key=lambda n: (not ids[n], min(map(_fnum, ids[n]), default=0), n))
    shown = order[:PICTURE_ROWS]
    head = "".join(f"<th>{layer}</th>" for layer in LAYERS)
    body = "".join(
        f"<tr><th>{escape(name)}</th>"
        + "".join(
            f'<td class="nc-cell nc-{s}">{s if s != "none" else "&ndash;"}</td>'
            for s in rows[name].values()
        )
        + f"<td>{' '.join(ids[name])}</td></tr>"
        for name in shown
    )
    hidden = order[len(shown) :]
    more = f"<p>and {len(hidden)} more endpoints.</p>" if hidden else ""
    return (
        '<div class="nc-picture"><table><caption>How far each endpoint\'s checks got, layer '
        f"by layer</caption><tr><th>endpoint</th>{head}<th>finding</th></tr>{body}</table>"
        f"{more}</div>"
    )


def machine_html(records: Iterable[Record], findings: list[Finding]) -> str:
    """This machine's Windows settings (the host checks) as a section of their own: one line
    each, or one sentence when none ran (off Windows)."""
    host = [r for r in records if r["check"] == "host"]
    if not host:
        return ""
    reasons = {r["detail"] for r in host if r["outcome"] == "skip"}
    if len(reasons) == 1 and all(r["outcome"] == "skip" for r in host):
        return (
            f'<p class="nc-detail netcheck">This machine: {plural(len(host), "Windows setting")} '
            f"from the checklist not checked ({escape(reasons.pop())}).</p>"
        )
    titles = {c.id: c.title for c in HOST_CHECKS}
    finding_of = {c: f.id for f in findings for c in f.checks}
    rows = "".join(
        f"<tr><th>{escape(titles.get(r['endpoint'], r['endpoint']))}</th>"
        f'<td class="nc-cell nc-{_STATE.get(r["outcome"], "none")}">{escape(r["outcome"])}</td>'
        f"<td>{escape(r['detail'] or '')}</td><td>{finding_of.get(r['id'], '')}</td></tr>"
        for r in sorted(host, key=lambda r: STATES.index(_STATE.get(r["outcome"], "none")))
    )
    return (
        '<div class="nc-picture nc-machine netcheck"><table><caption>This machine: the Windows '
        "settings from the checklist</caption><tr><th>setting</th><th>verdict</th><th>detail</th>"
        f"<th>finding</th></tr>{rows}</table></div>"
    )


_STATE = {"pass": "pass", "warn": "warn", "fail": "fail", "error": "fail", "skip": "none"}


def _fnum(fid: str) -> int:
    return int(fid[1:])


def filter_html(findings: list[Finding], records: list[Record]) -> str:
    layers = sorted({r["layer"] for r in records if r["layer"]}, key=_layer_index)
    causes = sorted({r["cause"] for r in records if r["cause"]})
    options = [("", "every check")]
    options += [(f"finding:{f.id}", f"{f.id}: {f.layer} / {f.cause}") for f in findings]
    options += [(f"layer:{layer}", f"layer {layer}") for layer in layers]
    options += [(f"cause:{cause}", f"cause {cause}") for cause in causes]
    html_options = "".join(
        f'<option value="{escape(v)}">{escape(label)}</option>' for v, label in options
    )
    # pytest-html names each row (its tbody's id) by the test cell's HTML: ours, the test name
    checks = {f.id: [escape(c.rpartition("::")[2]) for c in f.checks] for f in findings}
    return (
        f'<div class="nc-filter"><label>Show in the table below: <select id="nc-filter">'
        f"{html_options}</select></label>"
        f'<script type="application/json" id="nc-data">{script_json(checks)}</script>'
        f"<script>{FILTER_JS}</script></div>"
    )


def _layer_index(layer: str) -> int:
    return LAYERS.index(layer) if layer in LAYERS else len(LAYERS)


def certificates_html(certificates: dict[str, dict[str, str]]) -> str:
    """Each certificate's names and chain once; rows refer to them by SHA-256."""
    if not certificates:
        return ""
    rows = "".join(
        f'<tr id="cert-{escape(sha)}"><td><code>{escape(sha[:16])}</code></td>'
        f"<td>{escape(cert.get('san', ''))}</td><td>{escape(cert.get('chain', ''))}</td></tr>"
        for sha, cert in certificates.items()
    )
    return (
        f'<details class="nc-more netcheck"><summary>{len(certificates)} certificates seen '
        "(names and chain)</summary><table><tr><th>SHA-256</th><th>names (SAN)</th>"
        f"<th>chain as sent</th></tr>{rows}</table></details>"
    )


def diff_html(diff: Diff, baseline: Baseline) -> str:
    rows = "".join(
        f'<tr class="netcheck-{heading.replace(" ", "-")}"><th>{escape(heading)}</th>'
        f"<td>{escape(line)}</td></tr>"
        for heading, line in diff.lines()
    )
    return (
        f'<div class="netcheck-diff netcheck"><h2>Changes since the baseline</h2>'
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
        '<div class="netcheck-matrix"><h2>Every check at every site</h2>'
        f"<p>{len(matrix.rows)} checks at {len(matrix.sites)} sites.</p><table>"
        f"<tr><th>check</th><th>endpoint</th>{head}</tr>{rows}</table></div>"
    )
