"""`python -m netcheck import-m365 SOURCE -o OUT.toml`: the Microsoft 365 endpoints list
(a saved JSON file, or the web service's URL) as a netcheck profile."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from netcheck import m365
from netcheck.profile import ProfileError, load


def import_m365(args: argparse.Namespace) -> int:
    probe_hosts = {}
    for pair in args.probe_host:
        pattern, sep, host = pair.partition("=")
        if not sep or not pattern or not host:
            raise m365.M365Error(f"--probe-host: {pair!r} is not PATTERN=HOST")
        probe_hosts[pattern] = host
    source = args.source
    if source.startswith(("https://", "http://")):
        text, origin = m365.fetch(source), source.split("?")[0]
    else:
        text, origin = m365.read(source), Path(source).name
    data, summary = m365.from_json(text, probe_hosts=probe_hosts, source=origin)
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    toml = m365.to_toml(
        data,
        [
            f"Converted by `python -m netcheck import-m365` from {origin} on {when}.",
            str(summary) + ".",
            'Wildcards without probe_host are listed but skipped: add probe_host = "<a host>"',
            "(or re-run with --probe-host 'PATTERN=HOST') to check one host under them.",
        ],
    )
    out = Path(args.output)
    out.write_text(toml, encoding="utf-8")
    try:
        load(out)  # what we wrote must be a valid profile
    except ProfileError as exc:
        raise m365.M365Error(f"the converted profile does not load: {exc}") from None
    print(f"{out}: {summary}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m netcheck")
    commands = parser.add_subparsers(dest="command", required=True)
    cmd = commands.add_parser(
        "import-m365", help="convert the Microsoft 365 endpoints list into a profile"
    )
    cmd.add_argument("source", help=f"a saved JSON file, or the service URL ({m365.SERVICE_URL})")
    cmd.add_argument("-o", "--output", required=True, metavar="OUT.toml")
    cmd.add_argument(
        "--probe-host",
        action="append",
        default=[],
        metavar="PATTERN=HOST",
        help="check the wildcard PATTERN at HOST, e.g. '*.office.com=www.office.com'",
    )
    args = parser.parse_args(argv)
    try:
        return import_m365(args)
    except m365.M365Error as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
