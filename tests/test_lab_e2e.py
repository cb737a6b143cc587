"""End to end: the real suite, run in the lab's corporate namespace, reports what each
scenario's network does (lab/scenarios/*.toml): the exact pass/fail set by test id, with
the failing layer and cause from its JUnit properties, within a generous wall time.

Each scenario's lab is brought up once, concurrently with the others (tests/lab_fleet.py),
every run of the scenario goes through it, and it is torn down as soon as they are done
(even when a run fails). A run that needs a client feature netcheck lacks is skipped.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest

from lab import scenario as scenarios
from lab.plan import site_addresses
from lab.topology import missing_binaries
from tests import lab_fleet as fleet

SCENARIOS = {name: scenarios.load(name) for name in scenarios.names()}
RUNS = [pytest.param(s, r.name, id=f"{s}-{r.name}") for s, sc in SCENARIOS.items() for r in sc.runs]

if os.geteuid() != 0 or missing_binaries():
    why = "root" if os.geteuid() != 0 else ", ".join(missing_binaries())
    if os.environ.get("CI"):
        raise RuntimeError(f"the lab end-to-end tests need {why}; .ci/run installs them")
    pytestmark = pytest.mark.skip(reason=f"the lab needs {why} (python -m lab setup)")


for _name in SCENARIOS:
    fleet.want(_name)
fleet.want("proxy-auth", password=lambda lab: lab.password)


@pytest.fixture(scope="session")
def out_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("lab-e2e")


@pytest.mark.parametrize(("name", "run_name"), RUNS)
def test_verdicts(name: str, run_name: str, out_dir: Path) -> None:
    """Every test's outcome, layer and cause is exactly the scenario's."""
    result = fleet.outcome(name, out_dir).runs[run_name]
    assert result.verdicts, f"the suite wrote no JUnit report:\n{result.output[-3000:]}"
    run = SCENARIOS[name].run(run_name)
    diff = scenarios.compare(run.expected(list(result.verdicts)), result.verdicts)
    assert not diff, "\n".join(diff) + f"\n\nsuite output:\n{result.output[-3000:]}"
    failing = sum(
        v.outcome in ("fail", "error") and t not in result.optional
        for t, v in run.expected(list(result.verdicts)).items()
    )
    assert result.returncode == (1 if failing or run.site_errors else 0), result.output[-3000:]
    errors = {s["name"]: s["error"] for s in result.results.get("sites") or []}
    assert list(errors) == list(run.sites)
    for site, error in errors.items():  # a site that cannot run is left out, with the reason
        if words := run.site_errors.get(site):
            assert error and words in error, (site, error)
        else:
            assert error is None, (site, error)


@pytest.mark.parametrize(("name", "run_name"), RUNS)
def test_no_hang(name: str, run_name: str, out_dir: Path) -> None:
    """Generous bounds on the suite's wall time and the lab's start and teardown: catch
    hangs, not slowness."""
    result = fleet.outcome(name, out_dir).runs[run_name]
    run = SCENARIOS[name].run(run_name)
    assert result.seconds < run.max_seconds, f"{result.seconds:.1f} s"
    lab = fleet.outcome(name, out_dir)
    assert lab.up_seconds < 30 and lab.down_seconds < 15, (lab.up_seconds, lab.down_seconds)


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_nothing_left_behind(name: str, out_dir: Path) -> None:
    """No namespace, /etc/netns entry, temp dir or daemon outlives the lab."""
    assert fleet.outcome(name, out_dir).leftovers == []


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_isolated(name: str, out_dir: Path) -> None:
    """Real addresses: corp's route ends at the edge, which (like inet) has none; and the
    namespace the tests run in gained no interface (the lab never links to it)."""
    result = fleet.outcome(name, out_dir)
    assert "via 198.18.0.1 dev eth0" in result.route_out["corp"]
    for i, site in enumerate(SCENARIOS[name].sites, start=1):
        assert f"via {site_addresses(i)[0][0]} dev eth0" in result.route_out[site]
    for role in ("edge", "inet"):
        assert "unreachable" in result.route_out[role], f"{role}: {result.route_out[role]}"
    assert fleet.interfaces["after"] == fleet.interfaces["before"]


def test_html_report(out_dir: Path) -> None:
    """The firewall scenario's report names the failing layers and causes."""
    html = fleet.outcome("firewall", out_dir).runs["direct"].html.read_text()
    for text in ("dns_servfail", "dns_nxdomain", "connection_refused", "timeout"):
        assert text in html


def test_sites_in_one_report(out_dir: Path) -> None:
    """Three offices, one run: every check once per site in one results file, each site's
    counts as the scenario expects, and the report's matrix shows each site's verdict."""
    result = fleet.outcome("sites", out_dir).runs["sites"]
    data = result.results
    sites = {s["name"]: s for s in data["sites"]}
    assert list(sites) == ["hq", "branch1", "branch2"], data["sites"]
    assert [s["error"] for s in sites.values()] == [None] * 3
    per_site = Counter(r["site"] for r in data["results"])
    assert len(set(per_site.values())) == 1 and sum(per_site.values()) == len(result.verdicts)
    expected = SCENARIOS["sites"].runs[0].expected(list(result.verdicts))
    for site, about in sites.items():
        mine = Counter(v.outcome for t, v in expected.items() if t.endswith(f"@{site}]"))
        counts = {"passed": mine["pass"], "failed": mine["fail"], "skipped": mine["skip"]}
        assert about["summary"] == {k: n for k, n in counts.items() if n}, site
    html = result.html.read_text()
    matrix = html[html.index('<div class="netcheck-matrix">') :].split("</table>")[0]
    row = matrix[matrix.index("<th>officecdn.microsoft.com</th>") :].split("</tr>")[0]
    assert [c.split(">")[-1] for c in row.split("</td>")[:-1]] == [
        "passed",
        "failed: tcp timeout",
        "passed",
    ]


def test_proxy_password_appears_in_no_output(out_dir: Path) -> None:
    """The lab's password (made at lab start) goes to --proxy, and nowhere netcheck writes."""
    result = fleet.outcome("proxy-auth", out_dir)
    password, run = result.probe("password"), result.runs["credentials"]
    assert f"--proxy=http://netcheck:{password}@proxy.corp.lab.test:3128" in run.argv
    outputs = {
        "terminal": run.output,
        "junit": run.junit.read_text(),
        "html": run.html.read_text(),
        "results": json.dumps(run.results),
    }
    for channel, text in outputs.items():
        assert password not in text, channel


def test_inspecting_squid_is_named(out_dir: Path) -> None:
    """squid-openssl re-signs with the corp CA: each bumped check names that CA and the
    proxy; the spliced CDN shows the origin's own issuer (the lab root CA)."""
    result = fleet.outcome("proxy-inspection", out_dir).runs["proxy"]
    by_endpoint = {(r["check"], r["endpoint"]): r for r in result.results["results"]}
    bumped = by_endpoint["firewall", "login.microsoftonline.com"]
    assert bumped["detail"].startswith(
        "TLS inspection by OU=corp inspection CA,O=Contoso through the proxy http://"
    ), bumped["detail"]
    assert bumped["evidence"]["certificate_issuer"] == "OU=corp inspection CA,O=Contoso"
    spliced = by_endpoint["firewall", "officecdn.microsoft.com"]
    assert spliced["evidence"]["certificate_issuer"] == "OU=lab root CA,O=netcheck lab"
