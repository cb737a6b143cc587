"""Regenerate the report screenshots in docs/ from the lab, as root:

    .venv/bin/python docs/screenshots.py

Runs the suite in the lab's firewall and proxy-inspection scenarios and in its healthy one
with a resolver that does not answer (no DNS at all), and photographs the top of each
report with headless Chromium at 1400x900: docs/report-<name>.png. Like `python -m lab`,
it first moves into a fresh network namespace of its own.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from lab import scenario as scenarios  # noqa: E402
from lab.suite import KEEP_ENV, suite_argv  # noqa: E402
from lab.topology import EDGE_CORP_IP, Lab  # noqa: E402

# name: (scenario, extra arguments); the no-DNS run asks a port where nothing listens.
SHOTS = {
    "firewall": ("firewall", []),
    "proxy-inspection": ("proxy-inspection", []),
    "no-dns": ("healthy", [f"--nameserver={EDGE_CORP_IP}:5353"]),
}
CHROMIUM = [
    "chromium",
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
    "--window-size=1400,900",
]


def shoot(name: str, scenario: str, extra: list[str], out: Path) -> Path:
    """Run the suite in the scenario's corporate network; return the HTML report."""
    s = scenarios.load(scenario)
    html = out / f"{name}.html"
    env = {k: v for k, v in os.environ.items() if k in KEEP_ENV}
    with Lab(s) as lab:
        argv = [*suite_argv(lab, s.runs[0]), f"--html={html}", "--results=none", "-q", *extra]
        subprocess.run(["ip", "netns", "exec", lab.corp, *argv], cwd=REPO, env=env, check=False)
    png = REPO / "docs" / f"report-{name}.png"
    subprocess.run(
        [*CHROMIUM, f"--user-data-dir={out / 'chromium'}", f"--screenshot={png}", html.as_uri()],
        check=True,
        capture_output=True,
    )
    return png


def main() -> None:
    if not os.environ.get("NETCHECK_SCREENSHOTS_ISOLATED"):  # a namespace of our own, once
        os.environ["NETCHECK_SCREENSHOTS_ISOLATED"] = "1"
        script = 'ip link set lo up && exec "$@"'
        argv = ["unshare", "--net", "--", "sh", "-c", script, "sh", sys.executable, *sys.argv]
        os.execvp("unshare", argv)
    with tempfile.TemporaryDirectory(prefix="netcheck-screenshots-") as out:
        for name, (scenario, extra) in SHOTS.items():
            print(shoot(name, scenario, extra, Path(out)))


if __name__ == "__main__":
    main()
