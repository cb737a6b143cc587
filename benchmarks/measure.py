"""Run a command and measure it: wall time, peak resident memory of its process tree, CPU
time, and the machine's load average around it."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")
POLL = 0.05  # seconds between two looks at the process tree's memory


@dataclass
class Measured:
    returncode: int
    wall: float
    peak_mb: float  # the tree's resident memory at its largest (sampled), or more if one
    # process alone peaked higher between two samples (the kernel's own peak)
    cpu: float  # user + system seconds of the command and every descendant it waited for
    load: tuple[float, float]  # 1-minute load average at the start and at the end


def descendants(root: int) -> list[int]:
    """`root` and every process below it, through /proc/PID/task/TID/children."""
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        try:
            for task in os.scandir(f"/proc/{pid}/task"):
                with open(f"{task.path}/children") as children:
                    todo += [int(p) for p in children.read().split()]
        except OSError:  # gone meanwhile
            continue
    return tree


def resident(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/statm") as statm:
                total += int(statm.read().split()[1]) * PAGE
        except (OSError, IndexError, ValueError):
            continue
    return total


def run(
    argv: list[str], log: Path, cwd: Path | None = None, env: dict[str, str] | None = None
) -> Measured:
    """Run `argv` with its output in `log`, watching its tree's memory until it exits."""
    load_start = os.getloadavg()[0]
    peak = 0
    ended: list[tuple[float, int, os.struct_rusage]] = []
    with open(log, "wb") as out:
        start = time.monotonic()
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )

        def reap() -> None:  # wait4: the exact end, the tree's CPU time, its largest peak
            _, status, rusage = os.wait4(proc.pid, 0)
            ended.append((time.monotonic() - start, status, rusage))

        reaper = threading.Thread(target=reap, daemon=True)
        reaper.start()
        while reaper.is_alive():
            peak = max(peak, resident(descendants(proc.pid)))
            reaper.join(POLL)
    wall, status, rusage = ended[0]
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    return Measured(
        returncode=proc.returncode,
        wall=wall,
        peak_mb=max(peak, rusage.ru_maxrss * 1024) / 2**20,
        cpu=rusage.ru_utime + rusage.ru_stime,
        load=(load_start, os.getloadavg()[0]),
    )
