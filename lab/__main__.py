"""python -m lab setup | list | up SCENARIO | down [ID...] | demo SCENARIO [--report PATH]

Every command except `setup`, `list` and `down` runs inside a fresh network namespace of
its own (`unshare --net`): the lab's namespaces are linked to each other only, and this
process never has an interface that leads out either.
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from lab import scenario as scenarios
from lab.suite import run_suite, suite_argv
from lab.topology import REPO, STATE, Lab, LabError, missing_binaries

PACKAGES = "iproute2 util-linux nftables dnsmasq-base unbound nginx-light squid-openssl openssl"
ISOLATED = "NETCHECK_LAB_ISOLATED"


def isolate() -> None:
    """Re-run this command in a new, empty network namespace (once)."""
    if os.environ.get(ISOLATED):  # this command, or the one that started it, is isolated
        return
    argv = [
        "unshare",
        "--net",
        "--",
        "sh",
        "-c",
        f'ip link set lo up && {ISOLATED}=$$ exec "$@"',
        "lab",
        sys.executable,
        "-m",
        "lab",
        *sys.argv[1:],
    ]
    os.execvp("unshare", argv)


def _terminate_on_signals() -> None:
    def stop(signum, frame):
        raise SystemExit(128 + signum)  # unwinds through `with Lab(...)`: teardown runs

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, stop)


def cmd_setup(args: argparse.Namespace) -> int:
    if not missing_binaries():
        print("the lab's programs are installed")
        return 0
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", *PACKAGES.split()], check=True)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    for name in scenarios.names():
        s = scenarios.load(name)
        print(f"{name:16} {' '.join(s.description.split())}")
    for state in sorted(STATE.glob("*.json")) if STATE.is_dir() else []:
        print(f"up: {state.stem}  (python -m lab down {state.stem})")
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    scenario = scenarios.load(args.scenario)
    lab = Lab(scenario)
    lab.up()
    run = scenario.runs[0]
    argv = shlex.join(suite_argv(lab, run))
    print(f"lab {lab.id} is up ({scenario.name}). Run the suite in its corporate network:")
    print(f"  ip netns exec {lab.corp} {argv}")
    print(f"Stop it with: python -m lab down {lab.id}")
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    states = [STATE / f"{i}.json" for i in args.ids] or (
        sorted(STATE.glob("*.json")) if STATE.is_dir() else []
    )
    for state in states:
        if not state.is_file():
            print(f"no lab {state.stem} is up", file=sys.stderr)
            return 2
        lab = Lab.from_state(state)
        lab.down()
        left = lab.leftovers()
        print(f"lab {lab.id}: down" + (f"; LEFT BEHIND: {left}" if left else ""))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    scenario = scenarios.load(args.scenario)
    run = scenario.runs[0] if not args.run else next(r for r in scenario.runs if r.name == args.run)
    report = Path(args.report or REPO / "reports" / f"lab-{scenario.name}.html").resolve()
    report.parent.mkdir(parents=True, exist_ok=True)
    print(f"scenario {scenario.name}: {' '.join(scenario.description.split())}")
    with tempfile.TemporaryDirectory(prefix="netcheck-lab-demo-") as out, Lab(scenario) as lab:
        print(f"lab {lab.id} is up; running the suite in {lab.corp} (run {run.name!r})")
        result = run_suite(lab, run, Path(out), html=report)
    print(result.output.rstrip().splitlines()[-1] if result.output.strip() else "(no output)")
    print(f"suite wall time {result.seconds:.1f} s; lab torn down")
    diff = scenarios.compare(run.expected(list(result.verdicts)), result.verdicts)
    if diff or not result.verdicts:
        print("the suite did NOT report what the scenario expects:", *diff, sep="\n  ")
    else:
        print("the suite reported exactly what the scenario expects")
    print(f"report: {report}")
    return 1 if diff or not result.verdicts else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("setup", help="install the lab's Debian packages (apt-get)")
    sub.add_parser("list", help="list the scenarios and the labs that are up")
    up = sub.add_parser("up", help="bring a scenario's lab up and leave it running")
    up.add_argument("scenario")
    down = sub.add_parser("down", help="tear labs down (all that are up by default)")
    down.add_argument("ids", nargs="*")
    demo = sub.add_parser("demo", help="up, run the suite, write the report, down")
    demo.add_argument("scenario")
    demo.add_argument("--run", help="which [[run]] of the scenario (default: the first)")
    demo.add_argument("--report", help="HTML report path (default reports/lab-SCENARIO.html)")
    args = parser.parse_args(argv)
    if args.command in ("up", "demo", "down") and os.geteuid() != 0:
        parser.error("the lab creates network namespaces: run it as root")
    if args.command in ("up", "demo"):
        isolate()
        _terminate_on_signals()
    try:
        return {
            "setup": cmd_setup,
            "list": cmd_list,
            "up": cmd_up,
            "down": cmd_down,
            "demo": cmd_demo,
        }[args.command](args)
    except (LabError, scenarios.ScenarioError) as exc:
        print(f"lab: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
