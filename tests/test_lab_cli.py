"""`python -m lab` as a user types it: from any directory, with bad arguments, `down`
leaving other checkouts' labs alone, and a whole demo (run in the background meanwhile)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from lab.topology import REPO, missing_binaries

BAD = {
    "unknown scenario": ["up", "nosuch"],
    "unknown demo scenario": ["demo", "nosuch"],
    "unknown run": ["demo", "healthy", "--run", "nosuch"],
    "unknown lab id": ["down", "nc-0-none"],
    "unknown command": ["frobnicate"],
    "missing scenario": ["up"],
    "unknown option": ["list", "--bogus"],
    "broken scenario file": ["demo", "{tmp}/broken.toml"],
    "unwritable report": ["demo", "ncsi-dns-wrong", "--report", "/proc/none/report.html"],
}


def lab(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`python -m lab ARGS` in `cwd`, lab/ importable through PYTHONPATH (see below)."""
    return subprocess.run(
        [sys.executable, "-m", "lab", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


NEEDS_LAB = pytest.mark.skipif(
    os.geteuid() != 0 or bool(missing_binaries()), reason="the lab needs root and its daemons"
)


@pytest.fixture(scope="module", autouse=True)
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[subprocess.Popen, Path]]:
    """`python -m lab demo`, started first and left to run while the other tests do."""
    report = tmp_path_factory.mktemp("demo") / "demo.html"
    argv = [sys.executable, "-m", "lab", "demo", "ncsi-dns-wrong", "--report", str(report)]
    with subprocess.Popen(
        argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as proc:
        yield proc, report
        proc.terminate()  # if still running: SIGTERM makes it tear its lab down
        proc.wait(30)


@pytest.fixture(scope="module")
def bad(tmp_path_factory: pytest.TempPathFactory) -> dict[str, subprocess.CompletedProcess]:
    tmp = tmp_path_factory.mktemp("bad")
    (tmp / "broken.toml").write_text("[network\n")
    argvs = {k: [a.format(tmp=tmp) for a in v] for k, v in BAD.items()}
    with ThreadPoolExecutor(len(argvs)) as pool:
        done = pool.map(lambda argv: lab(*argv, cwd=tmp), argvs.values())
        return dict(zip(argvs, done, strict=True))


@pytest.mark.parametrize("case", list(BAD))
def test_bad_arguments_are_one_line_and_exit_2(
    bad: dict[str, subprocess.CompletedProcess], case: str
) -> None:
    proc = bad[case]
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    assert re.fullmatch(r"lab: [^\n]+\n", proc.stderr), proc.stderr


def test_bad_arguments_say_what_is_wrong(bad: dict[str, subprocess.CompletedProcess]) -> None:
    assert "no scenario 'nosuch' (have: captive-portal, " in bad["unknown scenario"].stderr
    assert "healthy: no run 'nosuch' (have: direct)" in bad["unknown run"].stderr
    assert "no lab nc-0-none is up" in bad["unknown lab id"].stderr
    assert "broken.toml: " in bad["broken scenario file"].stderr
    assert "--report /proc/none/report.html: " in bad["unwritable report"].stderr


def test_the_lab_runs_from_any_directory(tmp_path: Path) -> None:
    """The lab is the checkout's, not an installed package: `python <checkout>/lab`."""
    proc = subprocess.run(
        [sys.executable, str(REPO / "lab"), "list"], cwd=tmp_path, capture_output=True, text=True
    )
    assert proc.returncode == 0 and "healthy" in proc.stdout, proc.stderr


@NEEDS_LAB
def test_up_from_anywhere_and_down_leaves_other_checkouts_labs(tmp_path: Path) -> None:
    """`lab up` in one directory prints a suite command that works in another; `lab down`
    without ids takes this checkout's lab down and leaves another checkout's alone."""
    state, here, there = tmp_path / "state", tmp_path / "here", tmp_path / "there"
    for d in (state, here, there):
        d.mkdir()
    env = {"NETCHECK_LAB_STATE": str(state)}  # these tests' labs only
    foreign = {"id": "nc-1-f00d", "checkout": "/elsewhere/netcheck", "scenario": "healthy"}
    foreign |= {"dir": str(tmp_path / "gone"), "namespaces": [], "pids": {}}
    (state / "nc-1-f00d.json").write_text(json.dumps(foreign))

    up = lab("up", "healthy", cwd=here, env=env)
    assert up.returncode == 0, up.stderr
    lab_id = re.search(r"lab (nc-\S+) is up", up.stdout).group(1)
    try:
        lines = up.stdout.splitlines()
        suite = lines[lines.index("Stop it with:") - 1].strip()
        assert suite.startswith(f"cd {REPO} && ip netns exec {lab_id}-corp ")
        report = tmp_path / "report.html"
        run = subprocess.run(
            f"{suite} -k ncsi_dns --html={report} --results=none",
            shell=True,
            cwd=there,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert run.returncode == 0 and "1 passed" in run.stdout, run.stdout + run.stderr
        assert report.is_file()

        listed = lab("list", cwd=there, env=env).stdout
        assert f"up: {lab_id}  healthy (this checkout)" in listed
        assert "up: nc-1-f00d  healthy (checkout /elsewhere/netcheck)" in listed
    finally:
        down = lab("down", cwd=there, env=env)
    assert down.returncode == 0, down.stderr
    assert down.stdout.splitlines() == [
        f"lab {lab_id}: down",
        "left up, started by other checkouts: nc-1-f00d",
    ]
    assert [p.name for p in state.iterdir()] == ["nc-1-f00d.json"]
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert lab_id not in netns


@NEEDS_LAB
def test_demo(demo: tuple[subprocess.Popen, Path]) -> None:
    """`python -m lab demo SCENARIO` writes the report, tears down and says where it is."""
    proc, report = demo
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, output
    assert report.is_file()
    assert str(report) in output
    assert "1 failed, 65 passed" in output  # firewall: IPv4 and IPv6 variants
    assert "the suite reported exactly what the scenario expects" in output
