"""netcheck installed as people install it: the wheel `python -m build` makes (from the
sdist) in a fresh virtual environment without the dev extras, run from directories of its
own with `netcheck run`, `python -m netcheck run` and, after `netcheck init`, `pytest`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import venv
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from netcheck.__main__ import suite_files
from netcheck.plugin.settings import OPTIONS, Option
from tests.loopback_lab import REPO
from tests.test_m365 import SAMPLE

# A directory with the wheel and the sdist, and perhaps a wheelhouse/ of them and of every
# dependency, for the offline install (.ci/run builds them). Unset: the session builds them.
DIST = os.environ.get("NETCHECK_DIST")
ROOT = "CN=DigiCert Global Root G2,O=DigiCert Inc,C=US"
PROFILE = '[profile]\nname = "mine"\n[[endpoint]]\nurl = "https://intranet.contoso.test/"\n'


def check(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, **kwargs)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


@pytest.fixture(scope="session")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if DIST:
        return Path(DIST)
    out = tmp_path_factory.mktemp("dist")
    check([sys.executable, "-m", "build", "--no-isolation", f"--outdir={out}", str(REPO)])
    return out


@dataclass(frozen=True)
class Venv:
    path: Path

    @property
    def site(self) -> Path:
        version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
        return self.path / "lib" / version / "site-packages"

    def run(
        self, program: str, *args: str, cwd: Path, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """One of the environment's programs (netcheck, python), as typed in `cwd`, on a
        machine without DNS: the self-tests' system resolver is the loopback lab's, which
        answers the real names, so each run gets an empty resolv.conf of its own."""
        return subprocess.run(
            [*NO_DNS, str(self.path / "bin" / program), *args],
            cwd=cwd,
            env=os.environ | (env or {}),
            capture_output=True,
            text=True,
            timeout=60,
        )


NO_DNS = [
    "unshare",
    "--mount",
    "sh",
    "-c",
    'mount --bind /dev/null /etc/resolv.conf && exec "$@"',
    "-",
]


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory, dist: Path) -> Venv:
    """A fresh environment that pip installed netcheck into, without the dev extras.

    From a wheelhouse: the README's offline install, `--no-index --find-links`. Without one
    (no network here): the wheel alone, its requirements linked from this environment one
    distribution at a time. pip is this environment's, run `--python` the new one (ensurepip
    would cost seconds)."""
    env = Venv(tmp_path_factory.mktemp("venv"))
    venv.create(env.path, symlinks=True)
    pip = [sys.executable, "-m", "pip", f"--python={env.path / 'bin' / 'python'}"]
    pip += ["install", "--quiet", "--isolated", "--no-index"]
    if (wheelhouse := dist / "wheelhouse").is_dir():
        check([*pip, f"--find-links={wheelhouse}", "netcheck"])
    else:
        check([*pip, "--no-deps", str(next(dist.glob("netcheck-*.whl")))])
        link_requirements(env.site)
    return env


def link_requirements(site: Path) -> None:
    """Link into `site` the distributions netcheck, as installed there, requires (without
    extras, recursively), from this environment's site-packages."""
    (netcheck,) = metadata.distributions(name="netcheck", path=[str(site)])
    names, todo = set(), [netcheck]
    while todo:
        for req in map(Requirement, todo.pop().requires or []):
            if (name := canonicalize_name(req.name)) not in names and (
                not req.marker or req.marker.evaluate({"extra": ""})
            ):
                names.add(name)
                todo.append(metadata.distribution(name))
    for name in names:
        dist = metadata.distribution(name)
        for top in {f.parts[0] for f in dist.files or []} - {"..", "__pycache__"}:
            if not (site / top).exists():
                (site / top).symlink_to(dist.locate_file(top))


def test_the_wheel_ships_every_module_and_the_suite_as_it_is(dist: Path) -> None:
    with zipfile.ZipFile(next(dist.glob("netcheck-*.whl"))) as wheel:
        names = set(wheel.namelist())
        suite = {n.removeprefix("netcheck/suite/") for n in names if "netcheck/suite/" in n}
        assert sorted(suite) == sorted(f.as_posix() for f in suite_files())
        for file in suite_files():
            shipped = wheel.read(f"netcheck/suite/{file.as_posix()}")
            assert shipped == (REPO / file).read_bytes(), f"{file} differs in the wheel"
    modules = {p.relative_to(REPO).as_posix() for p in (REPO / "netcheck").rglob("*.py")}
    assert modules - names == set(), "add their packages to pyproject.toml's package list"


def test_the_sdist_is_the_whole_source(dist: Path) -> None:
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout: no list of the source files")
    with tarfile.open(next(dist.glob("netcheck-*.tar.gz"))) as sdist:
        shipped = {name.partition("/")[2] for name in sdist.getnames()}
    tracked = check(["git", "ls-files"], cwd=REPO).stdout.split()
    assert set(tracked) - shipped == {".ci/run", ".gitignore", "reports/.gitkeep"}


# The probe plugin: what pytest made of the command line, before netcheck reads the settings.
PROBE = """
import json, pytest
from netcheck.plugin.settings import OPTIONS

@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config):
    options = {o.name: config.getoption(o.dest) for o in OPTIONS}
    seen = {"options": options, "args": config.args, "rootdir": str(config.rootpath)}
    print("PARSED", json.dumps({**seen, "inifile": str(config.inipath)}))
    return 0
"""
# A directory that would break any run that read its pytest.ini or conftest.py.
HOSTILE = {
    "pytest.ini": "[pytest]\naddopts = --no-such-option\n",
    "conftest.py": "raise SystemExit('the conftest.py of the current directory was imported')\n",
    "tests_network/conftest.py": "raise SystemExit('tests_network/conftest.py was imported')\n",
    "endpoints.toml": "not a profile\n",
}


def given(option: Option) -> list[str]:
    """Values for an option, with spaces and commas; two for a repeatable one."""
    value = option.choices[-1] if option.choices else f"{option.name} value, with spaces"
    return [value, f"{value} 2"] if option.repeat else [value]


def spelled(equals: bool) -> list[str]:
    """Every option on a command line, as `--opt=value` or as `--opt value`."""
    return [
        arg
        for opt in OPTIONS
        for value in given(opt)
        for arg in ([f"--{opt.name}={value}"] if equals else [f"--{opt.name}", value])
    ]


Step = tuple[str, tuple[str, ...], Path]  # a name, a command, where it is typed
Runs = dict[str, tuple[subprocess.CompletedProcess[str], Path]]  # name -> (process, its cwd)


@pytest.fixture(scope="module")
def runs(installed: Venv, tmp_path_factory: pytest.TempPathFactory) -> Runs:
    """Every run against the installed netcheck, made once; the sequences run concurrently."""
    tmp = tmp_path_factory.mktemp("runs")
    empty, mine, init, hostile, probe = (
        tmp / d for d in ("empty", "mine", "init", "hostile", "probe")
    )
    for directory in (empty, mine, init, hostile / "tests_network", probe):
        directory.mkdir(parents=True)
    for name, text in HOSTILE.items():
        (hostile / name).write_text(text)
    (mine / "my profile.toml").write_text(PROFILE)
    (probe / "netcheck_probe.py").write_text(PROBE)
    run, parsed = ("netcheck", "run"), ("netcheck", "run", "-p", "netcheck_probe")
    examples = ("--domain", "contoso.com", "--probe-timeout", "3", f"--expected-root={ROOT}")
    sequences: list[list[Step]] = [
        [
            ("empty", (*run, *examples), empty),
            ("lf", (*run, *examples, "--lf", "--collect-only"), empty),
        ],
        [
            ("init", ("netcheck", "init", "suite"), init),
            ("init again", ("netcheck", "init", "suite"), init),
            ("pytest", ("python", "-m", "pytest"), init / "suite"),
        ],
        [
            ("mine", ("python", "-m", "netcheck", "run", "--endpoints", "my profile.toml"), mine),
            (
                "m365",
                ("python", "-m", "netcheck", "import-m365", str(SAMPLE), "-o", "m365.toml"),
                mine,
            ),
        ],
        [("spaced", (*parsed, *spelled(equals=False)), hostile)],
        [("equals", (*parsed, *spelled(equals=True)), hostile)],
        [("no plugin", (*run, "-p", "no:netcheck"), hostile)],
        [("help", (*run, "--help"), hostile)],
    ]

    def steps(sequence: list[Step]) -> Runs:
        env = {"PYTHONPATH": str(probe)}
        return {name: (installed.run(*cmd, cwd=cwd, env=env), cwd) for name, cmd, cwd in sequence}

    with ThreadPoolExecutor(len(sequences)) as pool:
        return {k: v for done in pool.map(steps, sequences) for k, v in done.items()}


def results_file(runs: Runs, name: str) -> dict[str, Any]:
    """The results file of a run, where it must be: ./reports, beside the report."""
    proc, cwd = runs[name]
    assert (cwd / "reports" / "report.html").is_file(), proc.stdout + proc.stderr
    return json.loads((cwd / "reports" / "results.json").read_text())


def test_netcheck_run_checks_from_an_empty_directory(runs: Runs) -> None:
    """The shipped checks ran (and failed at DNS: no network here) with the options given."""
    proc, _ = runs["empty"]
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "netcheck: Microsoft 365 Apps activation" in proc.stdout
    data = results_file(runs, "empty")
    assert data["settings"]["probe_timeout"] == 3
    ran = [r for r in data["results"] if r["outcome"] != "skip"]
    assert len(ran) > 40 and {r["layer"] for r in ran} == {"dns"}
    assert "contoso.com" in {r["target"] for r in ran if r["check"] == "msoid"}
    assert "\nFAILED test_crl.py::test_crl[crl.microsoft.com/" in proc.stdout  # short ids


def test_last_failed_reruns_the_failures(runs: Runs) -> None:
    proc, _ = runs["lf"]
    failed = [r for r in results_file(runs, "empty")["results"] if r["test_outcome"] == "failed"]
    assert f"run-last-failure: rerun previous {len(failed)} failures" in proc.stdout


def test_a_profile_of_ones_own_with_the_shipped_tests(runs: Runs) -> None:
    proc, _ = runs["mine"]
    records = results_file(runs, "mine")["results"]
    assert {(r["check"], r["target"], r["layer"]) for r in records if r["outcome"] != "skip"} == {
        ("firewall", "https://intranet.contoso.test/", "dns"),
        ("tls", "https://intranet.contoso.test/", "dns"),
    }
    assert "netcheck: mine (my profile.toml)" in proc.stdout


def test_netcheck_init_writes_a_suite_that_pytest_runs(runs: Runs) -> None:
    made, again, pytest_run = (runs[n][0] for n in ("init", "init again", "pytest"))
    assert made.returncode == 0, made.stderr
    assert again.returncode == 2
    more = len(suite_files()) - 1
    assert again.stderr == (
        f"error: suite/conftest.py (and {more} more) already exists: "
        "netcheck init overwrites nothing\n"
    )
    assert pytest_run.returncode == 1, pytest_run.stdout + pytest_run.stderr
    records = results_file(runs, "pytest")["results"]
    assert {r["layer"] for r in records if r["outcome"] != "skip"} == {"dns"}


@pytest.mark.parametrize("spelling", ["spaced", "equals"])
def test_every_option_as_opt_value_and_opt_equals_value(
    runs: Runs, installed: Venv, spelling: str
) -> None:
    """Parsed whole, never taken for a test path, with no pytest.ini or conftest.py of the
    current directory in the way."""
    proc, cwd = runs[spelling]
    (line,) = [line for line in proc.stdout.splitlines() if line.startswith("PARSED ")]
    parsed = json.loads(line.removeprefix("PARSED "))
    assert parsed["options"] == {o.name: given(o) if o.repeat else given(o)[0] for o in OPTIONS}
    suite = installed.site / "netcheck" / "suite"
    assert parsed["inifile"] == str(suite / "pytest.ini")
    assert parsed["args"] == [str(suite / "tests_network")] and parsed["rootdir"] == str(cwd)


def test_import_m365_converts_the_list(runs: Runs) -> None:
    proc, cwd = runs["m365"]
    assert proc.returncode == 0 and (cwd / "m365.toml").is_file(), proc.stderr


def test_without_the_plugin_the_checks_skip_in_one_line(runs: Runs) -> None:
    proc, _ = runs["no plugin"]
    assert proc.returncode == 5, proc.stdout + proc.stderr
    (skipped,) = [line for line in proc.stdout.splitlines() if "SKIPPED" in line]
    assert skipped.endswith("the netcheck plugin is disabled (-p no:netcheck)")
    assert "error" not in proc.stdout.lower() and not proc.stderr


def test_netcheck_run_help_shows_netchecks_options(runs: Runs) -> None:
    proc, _ = runs["help"]
    assert proc.returncode == 0 and proc.stdout.startswith("usage: netcheck run [options]")
    assert "netcheck network reachability:" in proc.stdout and "--expected-root=" in proc.stdout
