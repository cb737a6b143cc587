"""python -m lab setup | list | up SCENARIO | down [ID...] | demo SCENARIO [--run R] [--report P]

From another directory: python /path/to/checkout/lab COMMAND (the checkout is found from
this file, not from the working directory).

Every command except `setup`, `list` and `down` runs inside a fresh network namespace of
its own (`unshare --net`): the lab's namespaces are linked to each other only, and this
process never has an interface that leads out either. Each lab's state file records the
checkout that started it: `down` without an id tears down this checkout's labs only, never
another checkout's (name those by id). NETCHECK_LAB_STATE moves the state files elsewhere
(the default is /run/netcheck-lab). Bad arguments are one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import NoReturn

if __package__ in (None, ""):  # run as `python /path/to/checkout/lab`: import it from there
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lab import scenario as scenarios
from lab.suite import run_suite, suite_argv
from lab.topology import REPO, STATE, Lab, LabError, missing_binaries

PACKAGES = (
    "iproute2 util-linux nftables dnsmasq-base unbound nginx-light squid-openssl openssl"
    " krb5-kdc krb5-admin-server krb5-user openssh-server openssh-client curl"
)
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


def in_repo(argv: list[str]) -> str:
    """A command line that works from any directory: it runs in this checkout."""
    return f"cd {shlex.quote(str(REPO))} && {shlex.join(argv)}"


def cmd_list(args: argparse.Namespace) -> int:
    for name in scenarios.names():
        s = scenarios.load(name)
        print(f"{name:16} {' '.join(s.description.split())}")
    for state in up_states():
        about = json.loads(state.read_text())
        checkout = about.get("checkout", "?")
        whose = "this checkout" if checkout == str(REPO) else f"checkout {checkout}"
        print(f"up: {state.stem}  {Path(about['scenario']).stem} ({whose})")
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    scenario = scenarios.load(args.scenario)
    lab = Lab(scenario)
    lab.up()
    run = scenario.runs[0]
    print(f"lab {lab.id} is up ({scenario.name}). Run the suite in its corporate network:")
    print(f"  {in_repo(['ip', 'netns', 'exec', lab.corp, *suite_argv(lab, run)])}")
    print("Stop it with:")
    print(f"  {in_repo([sys.executable, '-m', 'lab', 'down', lab.id])}")
    return 0


def up_states() -> list[Path]:
    return sorted(STATE.glob("*.json")) if STATE.is_dir() else []


def cmd_down(args: argparse.Namespace) -> int:
    if args.ids:
        states = [STATE / f"{i}.json" for i in args.ids]
        if missing := [s.stem for s in states if not s.is_file()]:
            raise LabError(f"no lab {', '.join(missing)} is up (python -m lab list)")
        others = []
    else:  # this checkout's labs only
        ours = {s: json.loads(s.read_text()).get("checkout") == str(REPO) for s in up_states()}
        states = [s for s, mine in ours.items() if mine]
        others = [s.stem for s, mine in ours.items() if not mine]
    for state in states:
        lab = Lab.from_state(state)
        lab.down()
        left = lab.leftovers()
        print(f"lab {lab.id}: down" + (f"; LEFT BEHIND: {left}" if left else ""))
    if others:
        print(f"left up, started by other checkouts: {', '.join(others)}")
    elif not states:
        print("no lab of this checkout is up")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    scenario = scenarios.load(args.scenario)
    run = scenario.run(args.run) if args.run else scenario.runs[0]
    report = Path(args.report or REPO / "reports" / f"lab-{scenario.name}.html").resolve()
    try:
        report.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LabError(f"--report {args.report}: {exc.strerror}") from None
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


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """One line and exit status 2, instead of argparse's usage block."""
        self.exit(2, f"lab: {message} (python -m lab --help)\n")


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="python -m lab", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("setup", help="install the lab's Debian packages (apt-get)")
    sub.add_parser("list", help="list the scenarios and the labs that are up")
    up = sub.add_parser("up", help="bring a scenario's lab up and leave it running")
    up.add_argument("scenario")
    down = sub.add_parser("down", help="tear labs down (this checkout's by default)")
    down.add_argument("ids", nargs="*")
    demo = sub.add_parser("demo", help="up, run the suite, write the report, down")
    demo.add_argument("scenario")
    demo.add_argument("--run", help="which [[run]] of the scenario (default: the first)")
    demo.add_argument("--report", help="HTML report path (default reports/lab-SCENARIO.html)")
    args = parser.parse_args(argv)
    try:
        if args.command in ("up", "demo"):  # bad arguments fail here, before any work
            scenario = scenarios.load(args.scenario)
            if args.command == "demo" and args.run:
                scenario.run(args.run)
        if args.command in ("up", "demo", "down") and os.geteuid() != 0:
            parser.error("the lab creates network namespaces: run it as root")
        if args.command in ("up", "demo"):
            isolate()
            _terminate_on_signals()
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
    except KeyboardInterrupt:  # `with Lab` has torn down
        return 130


if __name__ == "__main__":
    sys.exit(main())
