"""What netcheck costs outside probing, and how fast its HTML report opens, at scale:

    .venv/bin/python benchmarks/report_cost.py 2000 [--checkout DIR] [--browser]

N firewall checks against a loopback lab (tests/fakenet), every other host refused, with
the HTML report, JUnit XML and results file. Prints the wall time, the probing time netcheck
reports, the difference (the time outside probing) and the files' sizes; with --browser,
how long headless Chromium takes to load the report. --checkout runs another netcheck
source tree (e.g. an older commit unpacked with `git archive`) against the same lab. Like
./selftest, it first moves into a fresh network namespace of its own.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from netcheck.trust import spki_pin  # noqa: E402
from tests.fakenet import DNSServer, Response, TestCA, WebServer, ZoneEntry  # noqa: E402

ORIGIN, REFUSED, DNS = "127.0.8.1", "127.0.9.1", ("127.0.0.53", 5353)
# Reports, once pytest-html has drawn its table, when the page finished loading.
LOADED = """<script>addEventListener('load', () => setTimeout(() => {
  document.body.dataset.loaded = Math.round(performance.now()); }, 0));</script>"""


def run(n: int, checkout: Path, out: Path) -> Path:
    with ExitStack() as stack:
        ca = TestCA()
        zone = {
            f"h{i:05d}.cost.test": ZoneEntry(a=[REFUSED if i % 2 else ORIGIN]) for i in range(n)
        }
        stack.enter_context(DNSServer(zone, *DNS))
        tls = ca.server_context("*.cost.test")
        stack.enter_context(WebServer(ORIGIN, 443, tls=tls, routes={"*": Response(body=b"ok")}))
        (out / "ca.pem").write_bytes(ca.cert_pem.bytes())
        entries = "".join(
            f'[[endpoint]]\nurl = "https://h{i:05d}.cost.test/"\nchecks = ["firewall"]\n'
            for i in range(n)
        )
        (out / "profile.toml").write_text(f'[profile]\nname = "cost"\n{entries}')
        cmd = [
            sys.executable, "-m", "pytest", "-q", f"--endpoints={out / 'profile.toml'}",
            f"--nameserver={DNS[0]}:{DNS[1]}", f"--ca-bundle={out / 'ca.pem'}",
            f"--expected-root={spki_pin(ca.certificate)}", "--probe-timeout=10",
            f"--html={out / 'report.html'}", f"--junitxml={out / 'junit.xml'}",
            f"--results={out / 'results.json'}",
        ]  # fmt: skip
        env = dict(os.environ, PYTHONPATH=str(checkout))
        start = time.monotonic()
        proc = subprocess.run(cmd, cwd=checkout, env=env, capture_output=True, text=True)
        wall = time.monotonic() - start
    probed = re.search(r"checks probed in ([\d.]+) s", proc.stdout)
    probing = float(probed.group(1)) if probed else float("nan")
    sizes = ", ".join(
        f"{name} {(out / name).stat().st_size / 1e6:.1f} MB"
        for name in ("report.html", "results.json")
    )
    print(f"{n} checks: wall {wall:.2f} s, probing {probing:.2f} s, outside {wall - probing:.2f} s")
    print(f"  {proc.stdout.strip().splitlines()[-1]}; {sizes}")
    return out / "report.html"


def browser_load(report: Path, out: Path) -> None:
    page = out / "loaded.html"
    page.write_text(report.read_text().replace("</body>", f"{LOADED}</body>"))
    cmd = [
        "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={out / 'chromium'}", "--window-size=1400,900", "--dump-dom",
        page.as_uri(),
    ]  # fmt: skip
    dom = subprocess.run(cmd, capture_output=True, text=True, timeout=120).stdout
    loaded = re.search(r'data-loaded="(\d+)"', dom)
    print(f"  Chromium: loaded in {loaded.group(1) if loaded else '?'} ms")


def main() -> None:
    if not os.environ.get("NETCHECK_COST_ISOLATED"):  # a network namespace of our own, once
        os.environ["NETCHECK_COST_ISOLATED"] = "1"
        script = 'ip link set lo up && exec "$@"'
        argv = ["unshare", "--net", "--", "sh", "-c", script, "sh", sys.executable, *sys.argv]
        os.execvp("unshare", argv)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checks", type=int)
    parser.add_argument("--checkout", type=Path, default=REPO)
    parser.add_argument("--browser", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="netcheck-cost-") as tmp:
        report = run(args.checks, args.checkout.resolve(), Path(tmp))
        if args.browser:
            browser_load(report, Path(tmp))


if __name__ == "__main__":
    main()
