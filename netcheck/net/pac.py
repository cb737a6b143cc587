"""Proxy auto-config (PAC): the proxy per URL, as Windows and browsers pick it.

The JavaScript runs in pypac's embedded interpreter (dukpy; `pip install 'netcheck[pac]'`),
in a worker process of its own: a PAC file that loops forever, or whose `dnsResolve()`
meets a slow resolver, cannot be interrupted inside the interpreter, but a process can be
killed. Starting the worker (Python and its imports) is not the PAC file's time; loading
the script and each answer are: within the probe timeout before the run (else a usage
error), within the check's deadline during it (else the check's verdict, and the worker is
replaced). The helpers that resolve names (dnsResolve, isInNet) use the OS resolver, as
Windows' do. netcheck tests the first choice (a PROXY or DIRECT), not the fallbacks.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import threading
from dataclasses import dataclass, field

from netcheck.url import redact

# The worker: says "loaded" once imported, reads the script and says "ready", then answers
# one JSON line per URL line: the answer (a string, as FindProxyForURL must return), or the
# error on one line.
WORKER = r"""
import json, sys
from urllib.parse import urlsplit
from pypac.parser import PACFile
print("loaded", flush=True)
pac = PACFile(json.loads(sys.stdin.readline()))
print("ready", flush=True)
for line in sys.stdin:
    url = line.strip()
    try:
        answer = pac.find_proxy_for_url(url, urlsplit(url).hostname or "")
        if not isinstance(answer, str):
            raise TypeError(f"FindProxyForURL returned {answer!r}, not a string")
        print(json.dumps({"answer": answer}), flush=True)
    except Exception as exc:
        print(json.dumps({"error": " ".join(f"{type(exc).__name__}: {exc}".split())}), flush=True)
"""
STARTUP = 60.0  # Python and pypac's imports, on a slow machine
PROBE_URL = "http://netcheck.invalid/"
WORKERS = 4  # PAC files evaluated at once: a slow dnsResolve() holds one worker, not all
_CREDENTIALS = re.compile(r"(PROXY\s+)[^\s;@]*@", re.IGNORECASE)


class PacError(Exception):
    """A PAC file that cannot be used, or did not answer in time; one line."""


def shown(answer: str) -> str:
    """A PAC answer as evidence: a `PROXY user:password@host:port` entry loses its password."""
    return _CREDENTIALS.sub(r"\1***@", answer)


def parse_choice(answer: str) -> str | None:
    """FindProxyForURL's first usable choice: `http://host:port` (port 80 when none is
    given, as Windows and browsers take it), or None for DIRECT."""
    for choice in (c.strip() for c in answer.split(";")):
        words = choice.split()
        if [w.upper() for w in words] == ["DIRECT"]:
            return None
        if len(words) == 2 and words[0].upper() == "PROXY":
            server = words[1]
            return (
                f"http://{server}"
                if server.rsplit("]", 1)[-1].count(":")
                else f"http://{server}:80"
            )
    raise PacError(f"the PAC file offers no PROXY or DIRECT: {shown(answer)[:200]!r}")


class _Worker:
    """One worker process, loaded with the script."""

    def __init__(self, pac: Pac, timeout: float | None) -> None:
        self.pac = pac
        self.process = subprocess.Popen(
            [sys.executable, "-c", WORKER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._read("loaded", STARTUP, "start")
        self._send(json.dumps(pac.script))
        self._read("ready", timeout, "load")

    def ask(self, url: str, timeout: float | None) -> dict[str, str]:
        self._send(url)
        return json.loads(self._read("", timeout, "answer"))

    def _send(self, line: str) -> None:
        assert self.process.stdin
        try:
            self.process.stdin.write(f"{line}\n")
            self.process.stdin.flush()
        except OSError:
            self._failed("stopped")

    def _read(self, expected: str, timeout: float | None, step: str) -> str:
        """The worker's next line; a worker silent for `timeout` is killed (PacError)."""
        stdout = self.process.stdout
        assert stdout
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(stdout.readline()))
        reader.start()
        reader.join(timeout)
        if reader.is_alive():
            self.kill()
            raise PacError(f"{self.pac}: did not {step} within {timeout:g} s")
        if not line or not line[0] or (expected and line[0].strip() != expected):
            self._failed("is not a usable PAC file")
        return line[0]

    def _failed(self, what: str) -> None:
        error = ""
        if self.process.poll() is not None and self.process.stderr:
            lines = self.process.stderr.read().strip().splitlines()
            error = " ".join(lines[-1].split()) if lines else ""
        self.kill()
        raise PacError(f"{self.pac}: {what}" + (f" ({error[:200]})" if error else ""))

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout, self.process.stderr):
            if pipe:
                pipe.close()


@dataclass
class Pac:
    """A PAC file, evaluated in up to WORKERS worker processes (cheap to ask, costly to
    start: each is reused until it overruns a deadline). Answers are kept per URL."""

    source: str  # the file or URL, for reports (credentials redacted when shown)
    script: str = field(repr=False)
    _idle: list[_Worker] = field(default_factory=list, repr=False)
    _busy: dict[object, _Worker] = field(default_factory=dict, repr=False)
    _slots: threading.BoundedSemaphore = field(
        default_factory=lambda: threading.BoundedSemaphore(WORKERS), repr=False
    )
    _cache: dict[str, str] = field(default_factory=dict, repr=False)

    def __str__(self) -> str:
        return f"PAC {redact(self.source)}"

    def validate(self, timeout: float) -> None:
        """Load the file and ask it once, before the run: a PAC file that is broken, or
        does not answer within `timeout`, is a usage error (PacError)."""
        try:
            import dukpy  # noqa: F401
            import pypac  # noqa: F401
        except ImportError:
            raise PacError("--pac needs pypac: pip install 'netcheck[pac]'") from None
        reply = self._ask(PROBE_URL, object(), timeout)
        if "error" in reply:
            raise PacError(f"{self}: FindProxyForURL failed ({reply['error'][:200]})")

    async def find(self, url: str) -> str:
        """FindProxyForURL's answer for `url`, asked from a thread; a check cancelled at its
        deadline kills the worker it was waiting on, which ends that thread's wait."""
        if url not in self._cache:
            token = object()
            try:
                reply = await asyncio.to_thread(self._ask, url, token, None)
            except asyncio.CancelledError:
                if worker := self._busy.pop(token, None):
                    worker.kill()
                raise
            if "error" in reply:
                raise PacError(f"FindProxyForURL failed for {url}: {reply['error'][:200]}")
            self._cache[url] = reply["answer"]
        return self._cache[url]

    def _ask(self, url: str, token: object, timeout: float | None) -> dict[str, str]:
        with self._slots:
            worker = self._idle.pop() if self._idle else _Worker(self, timeout)
            self._busy[token] = worker
            try:
                reply = worker.ask(url, timeout)
            finally:
                self._busy.pop(token, None)
            self._idle.append(worker)
            return reply

    def close(self) -> None:
        for worker in [*self._idle, *self._busy.values()]:
            worker.kill()
        self._idle.clear()
