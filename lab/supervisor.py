"""The lab's daemons: started in a namespace, ready once they listen, stopped by their pid.

Every daemon runs in the foreground under `ip netns exec`, in a session of its own (a Ctrl-C
in the terminal reaches the lab, which stops them), its output in `<dir>/<name>.out`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

READY_SECONDS = 15


class LabError(Exception):
    """The lab could not be set up; the message says which step and shows the daemon's log."""


def sh(*argv: str, input: str | None = None, env: dict[str, str] | None = None) -> str:
    """Run a command to completion; its output, or LabError with its error message."""
    proc = subprocess.run(argv, input=input, capture_output=True, text=True, timeout=30, env=env)
    if proc.returncode:
        raise LabError(f"{' '.join(argv)} failed: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout


class Supervisor:
    """Starts daemons and stops them; `pids` (name -> pid) is what the lab's state records,
    so another process (`python -m lab down`) can stop them too."""

    def __init__(self, directory: Path, on_change: Callable[[], None] = lambda: None) -> None:
        self.dir = directory
        self.pids: dict[str, int] = {}
        self._procs: dict[str, subprocess.Popen] = {}
        self._on_change = on_change

    def start(
        self,
        name: str,
        ns: str,
        argv: Sequence[str],
        *,
        ready: Sequence[tuple[str, str]],
        log: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        """Start `argv` in namespace `ns`; return once it listens on every (proto, address)
        of `ready` ("tcp", "198.18.0.1:3128"); LabError with its log if it exits first."""
        out = open(self.dir / f"{name}.out", "wb")  # noqa: SIM115 (kept open by the daemon)
        prefix = ["env", *(f"{k}={v}" for k, v in (env or {}).items())] if env else []
        proc = subprocess.Popen(
            ["ip", "netns", "exec", ns, *prefix, *argv],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        out.close()
        self._procs[name], self.pids[name] = proc, proc.pid
        self._on_change()
        deadline = time.monotonic() + READY_SECONDS
        while True:
            if proc.poll() is not None:
                raise LabError(f"{name} exited with {proc.returncode}:\n{self.log(name, log)}")
            listening = sh("ip", "netns", "exec", ns, "ss", "-Hlntu")
            if all(listens(listening, proto, addr) for proto, addr in ready):
                return
            if time.monotonic() > deadline:
                raise LabError(f"{name} did not listen on {ready}:\n{self.log(name, log)}")
            time.sleep(0.05)

    def log(self, name: str, extra: Path | None = None) -> str:
        """The end of a daemon's output (and of its own log file, if it keeps one)."""
        text = ""
        for path in (self.dir / f"{name}.out", extra):
            if path and path.exists():
                text += path.read_text(errors="replace")[-2000:]
        return text

    def stop_all(self, namespaces: Sequence[str]) -> None:
        """Stop every daemon, last started first: our own children directly, those another
        process started only while their pid is still inside one of `namespaces`."""
        for name, pid in reversed(list(self.pids.items())):
            proc = self._procs.pop(name, None)
            if proc is not None:
                if proc.poll() is None:
                    proc.terminate()
                    try:
                        proc.wait(5)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait(5)
            elif in_namespaces(pid, namespaces):
                kill(pid)
        self.pids.clear()

    def alive(self) -> list[str]:
        return [f"pid {pid} ({name})" for name, pid in self.pids.items() if alive(pid)]


def kill(pid: int) -> None:
    """SIGTERM, and SIGKILL if it is still there 5 s later."""
    try:
        os.kill(pid, signal.SIGTERM)
        for _ in range(100):
            if not alive(pid):
                return
            time.sleep(0.05)
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def listens(ss_output: str, proto: str, address: str) -> bool:
    """Whether `ss -Hlntu` shows a socket of `proto` bound to `address` (host:port), a
    wildcard 0.0.0.0 / * bind counting for 0.0.0.0."""
    host, _, port = address.rpartition(":")
    for line in ss_output.splitlines():
        fields = line.split()
        if len(fields) < 5 or fields[0] != proto:
            continue
        lhost, _, lport = fields[4].rpartition(":")
        lhost = lhost.split("%")[0]
        if lport == port and (lhost == host or (lhost in ("*", "0.0.0.0") and host == "0.0.0.0")):
            return True
    return False


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead for our purposes
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"  # the state follows "(comm)"


def in_namespaces(pid: int, namespaces: Sequence[str]) -> bool:
    """Only a pid still inside one of the lab's namespaces is the lab's to kill."""
    found = subprocess.run(["ip", "netns", "identify", str(pid)], capture_output=True, text=True)
    return found.stdout.strip() in namespaces
