"""Proxy auto-config (PAC): the proxy per URL, as Windows and browsers pick it.

The JavaScript runs in pypac's embedded interpreter (dukpy; `pip install 'netcheck[pac]'`),
in a worker process of its own: a PAC file that loops forever, or whose `dnsResolve()`
meets a slow resolver, cannot be interrupted inside the interpreter, but a process can be
killed. Each evaluation is bounded by the check's deadline; a worker that overran is
replaced. The helpers that resolve names (dnsResolve, isInNet) use the OS resolver, as
Windows' do. netcheck tests the first choice (a PROXY or DIRECT), not the fallbacks.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from dataclasses import dataclass, field

from netcheck.url import redact

# The worker: reads the script, then one URL per line; answers one JSON line per URL.
WORKER = r"""
import json, sys
from urllib.parse import urlsplit
from pypac.parser import PACFile
pac = PACFile(json.loads(sys.stdin.readline()))
print("ready", flush=True)
for line in sys.stdin:
    url = line.strip()
    try:
        answer = pac.find_proxy_for_url(url, urlsplit(url).hostname or "")
        print(json.dumps({"answer": answer}), flush=True)
    except Exception as exc:
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}), flush=True)
"""


class PacError(Exception):
    """A PAC file that cannot be used, or did not answer in time; one line."""


def parse_choice(answer: str) -> str | None:
    """FindProxyForURL's first usable choice: `http://host:port`, or None for DIRECT."""
    for choice in (c.strip() for c in answer.split(";")):
        words = choice.split()
        if words == ["DIRECT"]:
            return None
        if len(words) == 2 and words[0].upper() == "PROXY":
            return f"http://{words[1]}"
    raise PacError(f"the PAC file offers no PROXY or DIRECT: {answer[:200]!r}")


def validate(script: str, source: str, timeout: float) -> None:
    """Load the PAC file once, before the run: a broken or hanging one is a usage error."""
    try:
        import dukpy  # noqa: F401
        import pypac  # noqa: F401
    except ImportError:
        raise PacError("--pac needs pypac: pip install 'netcheck[pac]'") from None
    try:
        proc = subprocess.run(
            [sys.executable, "-c", WORKER],
            input=f"{json.dumps(script)}\nhttp://netcheck.invalid/\n",
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        raise PacError(f"{redact(source)}: did not answer within {timeout:g} s") from None
    lines = proc.stdout.splitlines()
    if proc.returncode or len(lines) < 2:
        error = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise PacError(f"{redact(source)}: not a usable PAC file ({error[:200]})")
    if "error" in (first := json.loads(lines[1])):
        raise PacError(f"{redact(source)}: FindProxyForURL failed ({first['error'][:200]})")


@dataclass
class Pac:
    """A PAC file, evaluated in a worker process, one URL at a time (the process is cheap
    to ask, expensive to start: it is reused until it overruns a deadline)."""

    source: str  # the file or URL, for reports (credentials redacted when shown)
    script: str = field(repr=False)
    _worker: asyncio.subprocess.Process | None = field(default=None, repr=False)
    _lock: asyncio.Lock | None = field(default=None, repr=False)
    _cache: dict[str, str] = field(default_factory=dict, repr=False)

    def __str__(self) -> str:
        return f"PAC {redact(self.source)}"

    async def find(self, url: str) -> str:
        """FindProxyForURL's answer for `url`; cancelled with the check that asks."""
        if url in self._cache:
            return self._cache[url]
        self._lock = self._lock or asyncio.Lock()
        async with self._lock:
            worker = await self._ready()
            try:
                assert worker.stdin and worker.stdout
                worker.stdin.write(f"{url}\n".encode())
                line = await worker.stdout.readline()
            except BaseException:  # cancelled at the deadline, or the worker died
                self._stop()
                raise
        if not line:
            self._stop()
            raise PacError("the PAC worker ended")
        reply = json.loads(line)
        if "error" in reply:
            raise PacError(f"FindProxyForURL failed for {url}: {reply['error'][:200]}")
        self._cache[url] = reply["answer"]
        return reply["answer"]

    async def _ready(self) -> asyncio.subprocess.Process:
        if self._worker is None:
            self._worker = worker = await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                WORKER,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.DEVNULL,
            )
            assert worker.stdin and worker.stdout
            worker.stdin.write(f"{json.dumps(self.script)}\n".encode())
            try:
                if await worker.stdout.readline() != b"ready\n":
                    raise PacError("the PAC file does not load")
            except BaseException:
                self._stop()
                raise
        return self._worker

    def _stop(self) -> None:
        if self._worker is not None:
            if self._worker.returncode is None:
                self._worker.kill()
            self._worker = None

    def close(self) -> None:
        self._stop()
