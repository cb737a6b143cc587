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
import subprocess
import sys
import threading
from dataclasses import dataclass, field

from netcheck.url import redact

# The worker: says "loaded" once imported, reads the script and says "ready", then answers
# one JSON line per URL line.
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
        print(json.dumps({"answer": answer}), flush=True)
    except Exception as exc:
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}), flush=True)
"""
STARTUP = 60.0  # Python and pypac's imports, on a slow machine
PROBE_URL = "http://netcheck.invalid/"


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


@dataclass
class Pac:
    """A PAC file, evaluated in a worker process one URL at a time (cheap to ask, costly to
    start: it is reused until it overruns a deadline)."""

    source: str  # the file or URL, for reports (credentials redacted when shown)
    script: str = field(repr=False)
    _worker: subprocess.Popen[str] | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
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
        with self._lock:
            reply = self._exchange(PROBE_URL, timeout)
        if "error" in reply:
            raise PacError(f"{self}: FindProxyForURL failed ({reply['error'][:200]})")

    async def find(self, url: str) -> str:
        """FindProxyForURL's answer for `url`. The worker is asked from a thread; a check
        cancelled at its deadline kills the worker, which ends the thread's wait."""
        if url not in self._cache:
            try:
                reply = await asyncio.to_thread(self._ask, url)
            except asyncio.CancelledError:
                self._stop()
                raise
            if "error" in reply:
                raise PacError(f"FindProxyForURL failed for {url}: {reply['error'][:200]}")
            self._cache[url] = reply["answer"]
        return self._cache[url]

    def _ask(self, url: str) -> dict[str, str]:
        with self._lock:
            return self._exchange(url, None)

    def _exchange(self, url: str, timeout: float | None) -> dict[str, str]:
        """One question to the worker (started if need be); `timeout` bounds loading the
        script and the answer, None leaves it to the caller (who kills the worker)."""
        if self._worker is None or self._worker.poll() is not None:
            self._worker = subprocess.Popen(
                [sys.executable, "-c", WORKER],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            self._read("loaded", STARTUP, "start")
            self._send(json.dumps(self.script))
            self._read("ready", timeout, "load")
        self._send(url)
        return json.loads(self._read("", timeout, "answer"))

    def _send(self, line: str) -> None:
        assert self._worker and self._worker.stdin
        try:
            self._worker.stdin.write(f"{line}\n")
            self._worker.stdin.flush()
        except OSError:
            self._failed("stopped")

    def _read(self, expected: str, timeout: float | None, step: str) -> str:
        """The worker's next line; a worker silent for `timeout` is killed (PacError)."""
        worker = self._worker
        assert worker and worker.stdout
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(worker.stdout.readline()))
        reader.start()
        reader.join(timeout)
        if reader.is_alive():
            self._stop()
            raise PacError(f"{self}: did not {step} within {timeout:g} s")
        if not line or not line[0] or (expected and line[0].strip() != expected):
            self._failed("is not a usable PAC file")
        return line[0]

    def _failed(self, what: str) -> None:
        worker, error = self._worker, ""
        if worker and worker.poll() is not None and worker.stderr:
            error = (worker.stderr.read().strip().splitlines() or [""])[-1]
        self._stop()
        raise PacError(f"{self}: {what}" + (f" ({error[:200]})" if error else ""))

    def _stop(self) -> None:
        if (worker := self._worker) is not None:
            self._worker = None
            worker.kill()
            worker.wait()
            for pipe in (worker.stdin, worker.stdout, worker.stderr):
                if pipe:
                    pipe.close()

    def close(self) -> None:
        self._stop()
