"""The first screen of the HTML report, as headless Chromium lays it out at 1400x900: the
verdict and every finding are visible without scrolling, and nothing is wider than the
window, for a firewall blocking several hosts, TLS inspection everywhere, and no DNS."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.loopback_lab import DEAD_NAMESERVER, MITM_PROXY, Lab, SuiteRun, proxy_url
from tests.test_hostile_report import chromium_dom

WIDTH, HEIGHT = 1400, 900
FIREWALL = """
[profile]
name = "Microsoft 365 Apps activation"
[[endpoint]]
url = "https://dropped.netcheck.test/"
[[endpoint]]
url = "https://refused.netcheck.test/"
[[endpoint]]
url = "https://rstconnect.netcheck.test/"
[[endpoint]]
url = "https://nosuchhost.netcheck.test/"
[[endpoint]]
url = "https://servfail.netcheck.test/"
[[endpoint]]
url = "http://closed.netcheck.test/"
[[endpoint]]
url = "https://login.microsoftonline.com/"
[[endpoint]]
url = "https://ok.netcheck.test/"
"""
INSPECTED = '[profile]\nname = "inspected"\n' + "".join(
    f'[[endpoint]]\nurl = "https://{host}/"\n'
    for host in (
        "login.microsoftonline.com",
        "login.microsoft.com",
        "login.windows.net",
        "officeclient.microsoft.com",
        "activation.sls.microsoft.com",
        "ols.officeapps.live.com",
    )
)
# Measures, once pytest-html has drawn the table, where the verdict and findings end; then
# follows the first finding's "show" link and counts the rows left in the table.
MEASURE = """<script>addEventListener('load', () => setTimeout(() => {
  const boxes = [...document.querySelectorAll('.nc-verdict, .nc-finding')];
  document.body.dataset.bottoms = boxes.map((e) => e.getBoundingClientRect().bottom).join(' ');
  document.body.dataset.width = document.documentElement.scrollWidth;
  document.querySelector('a[data-finding="F1"]').click();
  const rows = [...document.querySelectorAll('#results-table tbody.results-table-row')];
  document.body.dataset.shown = rows.filter((r) => r.style.display !== 'none').length;
}, 200));</script>"""


@pytest.fixture(scope="module")
def runs(lab: Lab) -> dict[str, SuiteRun]:
    with ThreadPoolExecutor(3) as pool:
        firewall = pool.submit(lab.run, FIREWALL)
        inspected = pool.submit(lab.run, INSPECTED, f"--proxy={proxy_url(MITM_PROXY)}")
        no_dns = pool.submit(lab.run, None, nameserver=DEAD_NAMESERVER, timeout=2)
        return {
            "firewall": firewall.result(),
            "inspected": inspected.result(),
            "no dns": no_dns.result(),
        }


@pytest.mark.parametrize(("name", "findings"), [("firewall", 6), ("inspected", 1), ("no dns", 1)])
def test_verdict_and_every_finding_fit_the_first_screen(
    runs: dict[str, SuiteRun], name: str, findings: int, tmp_path: Path
) -> None:
    run = runs[name]
    assert len(run.results["findings"]) == findings, [
        f["headline"] for f in run.results["findings"]
    ]
    page = tmp_path / "report.html"
    page.write_text(run.html.replace("</body>", f"{MEASURE}</body>"))
    dom = chromium_dom(page, tmp_path / "profile", size=(WIDTH, HEIGHT))
    bottoms = re.search(r'data-bottoms="([^"]*)"', dom)
    width = re.search(r'data-width="(\d+)"', dom)
    assert bottoms and width, dom[:2000]
    bottoms = [float(b) for b in bottoms.group(1).split()]
    assert len(bottoms) == 1 + findings  # the verdict, then each finding
    assert max(bottoms) <= HEIGHT, bottoms
    assert int(width.group(1)) <= WIDTH
    shown = re.search(r'data-shown="(\d+)"', dom)
    assert shown and int(shown.group(1)) == len(run.results["findings"][0]["checks"])
