"""Many vantage points on loopback: one run from several sites (pytest-xdist --dist each over
popen gateways) yields one report where every check of every site is kept apart.

The sites share the loopback lab but not their settings: `branch` goes through the lab's
proxy (HTTPS_PROXY in its environment), `office` connects directly; `crashy` is killed
while it probes, `down` cannot even start Python. The lab namespace version, with
per-site firewall rules, is the `sites` scenario of tests/test_lab_e2e.py.
"""

from __future__ import annotations

import sys
from collections import Counter

import pytest

from tests.loopback_lab import FAULT_HOSTS, NO_PROXY, PROXY, Lab, SuiteRun, proxy_url
from tests.test_cli import pytest_run

HOSTS = ("ok", "denied", "proxyonly", "refused", "dropped")
PROFILE = '[profile]\nname = "branch offices"\n' + "".join(
    f'[[endpoint]]\nurl = "https://{h}.netcheck.test/"\nchecks = ["firewall"]\n'
    + ("required = false\n" if h == "refused" else "")
    for h in HOSTS
)
PY = sys.executable
# Run Python ($@) and kill it a second after it starts connecting to the dropped host (its
# probe then still waits 3 s): every site has collected by then, the run is under way.
CRASH = f"""
exec 3<&0  # a background job's stdin is /dev/null: hand it execnet's pipe explicitly
"$@" <&3 3<&- &
pid=$!
while kill -0 $pid 2>/dev/null; do
  if ss -Htnp state syn-sent dst {FAULT_HOSTS["dropped.netcheck.test"]} | grep -q "pid=$pid,"; then
    sleep 1; kill -9 $pid
  fi
  sleep 0.1
done
wait $pid
"""
SITES = {
    "office": f"popen//id=office//python={PY}",
    "branch": f"popen//id=branch//python=env HTTPS_PROXY={PROXY[0]}:{PROXY[1]} {PY}",
    # Killed while it waits for the dropped host (CRASH): a worker crash mid-run.
    "crashy": f"popen//id=crashy//python=sh {{crash}} {PY}",
    "down": "popen//id=down//python=/nonexistent/<i>python",
}


@pytest.fixture(scope="module")
def run(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> SuiteRun:
    crash = tmp_path_factory.mktemp("sites") / "crash.sh"
    crash.write_text(CRASH)
    tx = [arg for spec in SITES.values() for arg in ("--tx", spec.format(crash=crash))]
    return lab.run(PROFILE, "--dist", "each", *tx, "-rxs", timeout=4)


def records(run: SuiteRun, site: str) -> dict[str, dict]:
    """The site's firewall checks by endpoint."""
    results = run.results["results"]
    return {r["endpoint"]: r for r in results if (r["site"], r["check"]) == (site, "firewall")}


def test_each_site_has_its_own_verdicts(run: SuiteRun) -> None:
    office, branch = records(run, "office"), records(run, "branch")
    verdict = {
        s: {e: (r["test_outcome"], r["cause"]) for e, r in recs.items()}
        for s, recs in (("office", office), ("branch", branch))
    }
    assert verdict["office"] == {
        "ok.netcheck.test": ("passed", None),
        "denied.netcheck.test": ("passed", None),
        "proxyonly.netcheck.test": ("failed", "dns_nxdomain"),
        "refused.netcheck.test": ("xfailed", "connection_refused"),
        "dropped.netcheck.test": ("failed", "timeout"),
    }
    assert verdict["branch"]["ok.netcheck.test"] == ("passed", None)
    assert verdict["branch"]["denied.netcheck.test"] == ("failed", "proxy_denied")
    assert verdict["branch"]["proxyonly.netcheck.test"] == ("passed", None)
    assert verdict["branch"]["refused.netcheck.test"][0] == "xfailed"
    assert branch["ok.netcheck.test"]["proxy"] == proxy_url(PROXY)
    assert office["ok.netcheck.test"]["proxy"] is None


def test_test_ids_junit_and_html_keep_sites_apart(run: SuiteRun) -> None:
    for site in ("office", "branch"):
        case = run.cases[f"test_firewall[denied.netcheck.test@{site}]"]
        assert case.props["site"] == site
    assert run.cases["test_firewall[denied.netcheck.test@branch]"].outcome == "failed"
    assert run.cases["test_firewall[denied.netcheck.test@office]"].outcome == "passed"
    ids = [r["id"] for r in run.results["results"]]
    assert len(ids) == len(set(ids))
    # pytest-html counts every site's tests: 2 sites x 5 endpoints, plus 4 checks without
    # targets each; office and branch finished, crashy's tests before its crash count too.
    assert 'data-test-result="passed"' in run.html
    assert run.html.count("denied.netcheck.test@") >= 2 * 2  # row and matrix per site


def test_counts_per_site_add_up(run: SuiteRun) -> None:
    sites = {s["name"]: s for s in run.results["sites"]}
    assert list(sites) == list(SITES)
    for name in ("office", "branch"):
        outcomes = Counter(r["test_outcome"] for r in run.results["results"] if r["site"] == name)
        assert sites[name]["summary"] == dict(outcomes)
        assert sum(outcomes.values()) == 5 + 5  # five firewall checks; five kinds without targets
        assert sites[name]["error"] is None
    assert sites["office"]["summary"] == {"failed": 2, "passed": 2, "skipped": 5, "xfailed": 1}
    assert sites["branch"]["proxy"] == (
        f"https: {proxy_url(PROXY)}, from the environment (HTTPS_PROXY, HTTP_PROXY, NO_PROXY)"
    )
    assert sites["office"]["proxy"] == NO_PROXY
    total = Counter()
    for site in sites.values():
        total.update(site["summary"])
    assert run.results["summary"] == dict(total)


def test_a_broken_site_is_reported_not_respawned_and_spares_the_others(run: SuiteRun) -> None:
    sites = {s["name"]: s for s in run.results["sites"]}
    assert sites["down"]["error"].startswith("cannot start Python there: ")
    assert sites["down"]["summary"] == {}
    assert sites["crashy"]["error"].startswith("worker crashed")
    assert "replacing crashed worker" not in run.output
    assert "crashed and worker restarting disabled" in run.output
    assert run.exit_code == 1
    assert "netcheck: sites" in run.output
    assert "down           no results" in run.output


def test_matrix_at_the_top_of_the_html_report(run: SuiteRun) -> None:
    html = run.html
    matrix = html[html.index('<div class="netcheck-matrix">') :]
    matrix = matrix[: matrix.index("</table></div>")]
    assert html.index("netcheck-matrix") < html.index('id="results-table"')
    assert "<th>firewall</th><th>denied.netcheck.test</th>" in matrix
    row = matrix[matrix.index("<th>denied.netcheck.test</th>") :].split("</tr>")[0]
    assert ">passed</td>" in row and ">failed: proxy proxy_denied</td>" in row
    assert row.count("<td") == len(SITES)
    assert "/nonexistent/&lt;i&gt;python" in matrix and "<i>python" not in html


@pytest.mark.parametrize(
    ("tx", "message"),
    [
        ([f"popen//python={PY}"], "name each site with an id, e.g. --tx popen//python="),
        ([f"popen//id=a//python={PY}", f"popen//id=a//python={PY}"], "two gateways are named 'a'"),
        (["popen//id=x//python=/nonexistent/python"], "no site can run netcheck: x: cannot start"),
    ],
    ids=["no id", "same id twice", "no site reachable"],
)
def test_bad_sites_are_usage_errors(tx: list[str], message: str) -> None:
    proc = pytest_run("--dist", "each", *(a for spec in tx for a in ("--tx", spec)))
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert message in proc.stderr


def test_a_single_run_names_its_site(lab: Lab) -> None:
    run = lab.run(PROFILE, "--site=laptop", "-k", "ok.netcheck.test")
    assert run.cases["test_firewall[ok.netcheck.test@laptop]"].props["site"] == "laptop"
    assert run.results["site"] == "laptop" and run.results["sites"] is None
    assert [r["site"] for r in run.results["results"]] == ["laptop"]
