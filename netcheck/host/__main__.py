"""`python -m netcheck.host [--record DIR] [--timeout S] [ID...]`: run the Windows host checks
here and print their verdicts; with --record, also save each reading as DIR/<id>.json (the
format of tests/data/host/, to turn a real machine's state into test data). Reads only."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from netcheck.host import CHECKS, collect_within, judge_safely


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m netcheck.host", description=__doc__)
    parser.add_argument("ids", nargs="*", help="check ids (default: all)")
    parser.add_argument("--record", type=Path, help="save each reading in this folder")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per check")
    args = parser.parse_args(argv)
    if sys.platform != "win32":
        parser.error("the host checks read Windows settings: run this on Windows")
    unknown = set(args.ids) - {check.id for check in CHECKS}
    if unknown:
        parser.error(f"no such check: {', '.join(sorted(unknown))}")
    if args.record:
        args.record.mkdir(parents=True, exist_ok=True)
    for check in CHECKS:
        if args.ids and check.id not in args.ids:
            continue
        reading = collect_within(check, args.timeout)
        if args.record:
            (args.record / f"{check.id}.json").write_text(reading.to_json(), encoding="utf-8")
        verdict = judge_safely(check, reading)
        print(f"{verdict.outcome:10} {check.id}: {verdict.detail}")
        if verdict.advice:
            print(f"{'':10} what to do: {verdict.advice}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
