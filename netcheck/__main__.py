"""netcheck's command line (`netcheck`, or `python -m netcheck`):

- `netcheck run [pytest options]`: the shipped checks, from any directory; the report goes
  to ./reports/report.html.
- `netcheck init DIR`: an editable copy of the suite, to run with `pytest` in DIR.
- `netcheck import-m365 SOURCE -o OUT.toml`: the Microsoft 365 endpoints list (a saved JSON
  file, or the web service's URL) as a netcheck profile.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

from netcheck import m365
from netcheck.profile import ProfileError, load

PACKAGE = Path(__file__).resolve().parent
# The suite: package data of an installed wheel (netcheck/suite); in a checkout installed
# with `pip install -e .`, the checkout's top level, the files the wheel ships.
SUITE = PACKAGE / "suite" if (PACKAGE / "suite").is_dir() else PACKAGE.parent


def suite_files() -> list[Path]:
    """The suite's files, relative to SUITE: what the wheel ships and `netcheck init` writes."""
    tests = sorted(p.relative_to(SUITE) for p in (SUITE / "tests_network").glob("*.py"))
    return [Path("conftest.py"), Path("endpoints.toml"), Path("pytest.ini"), *tests]


def run(pytest_args: list[str]) -> int:
    """pytest over the shipped suite, from the current directory: the report, the results
    and pytest's cache go to ./reports, as with `pytest` in a checkout."""
    import pytest

    class Usage:  # pytest's usage and errors name the command that was typed
        @staticmethod
        def pytest_addoption(parser: pytest.Parser) -> None:
            parser.prog = "netcheck run"

    sys.dont_write_bytecode = True  # pytest's rewritten test modules stay out of site-packages
    return pytest.main(
        [
            # The suite's own pytest.ini (the profile beside it is the default), so none of
            # this directory's; conftest.py files are looked for only from the suite's
            # directory down, so none of this directory's either.
            f"--config-file={SUITE / 'pytest.ini'}",
            f"--rootdir={Path.cwd()}",
            str(SUITE / "tests_network"),
            *pytest_args,
            # netcheck is imported before pytest starts: its asserts are not rewritten (no
            # matter: its tests' failures read as explanations). Last, so -W error leaves it.
            "--pythonwarnings=ignore:Module already imported so cannot be rewritten; netcheck"
            ":pytest.PytestAssertRewriteWarning",
        ],
        plugins=[Usage()],
    )


def init(directory: Path) -> int:
    """Write an editable copy of the suite into `directory`; never overwrite a file."""
    targets = [(SUITE / f, directory / f) for f in suite_files()]
    if existing := [dst for _, dst in targets if dst.exists()]:
        more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
        raise CommandError(f"{existing[0]}{more} already exists: netcheck init overwrites nothing")
    for src, dst in targets:
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
    print(f"{directory}: the netcheck suite; edit endpoints.toml, run `pytest` there")
    return 0


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
            f"Converted by `netcheck import-m365` from {origin} on {when}.",
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


class CommandError(Exception):
    """A command that cannot do what it was asked: one line, exit code 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (netcheck --help)\n")


def parser() -> Parser:
    top = Parser(prog="netcheck", description="Can Microsoft 365 Apps activate from here?")
    commands = top.add_subparsers(dest="command", required=True, parser_class=Parser)
    commands.add_parser(  # never parses: main() hands what follows `run` to pytest
        "run",
        help="run the checks (with pytest's and netcheck's options: netcheck run --help)"
        "; the report goes to ./reports/report.html",
    )
    cmd = commands.add_parser("init", help="write an editable copy of the suite into DIR")
    cmd.add_argument("directory", type=Path, metavar="DIR")
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
    return top


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["run"]:  # everything after `run` is pytest's, untouched
        return run(argv[1:])
    args = parser().parse_args(argv)
    try:
        return init(args.directory) if args.command == "init" else import_m365(args)
    except (CommandError, m365.M365Error) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
