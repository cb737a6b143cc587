"""How long an HTML report takes to open: headless Chromium driven over the DevTools protocol.

Chromium runs with --remote-debugging-pipe (DevTools messages as NUL-terminated JSON on file
descriptors 3 and 4, so no websocket client is needed), in whatever network namespace the
caller is in (./benchmarks/run: an empty one).
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--remote-debugging-pipe",
)
# What the page says about itself once loaded: its own navigation timing, and how many of
# pytest-html's result rows it rendered (its script builds them from JSON at load).
PAGE_FACTS = """JSON.stringify({
  load: performance.getEntriesByType("navigation")[0].loadEventEnd,
  rows: document.querySelectorAll("#results-table tbody.results-table-row").length,
})"""
TIMEOUT = 120.0  # seconds without a DevTools message before giving up


@dataclass
class Opened:
    seconds: float  # from the navigation command to the load event, as DevTools saw them
    page_load: float  # the page's own loadEventEnd (s after its navigation started)
    rows: int  # result rows the report rendered


class DevTools:
    """One Chromium; `call` sends a command and returns its result, `wait` awaits an event."""

    def __init__(self, profile: str) -> None:
        to_browser, self._out = os.pipe()
        self._in, from_browser = os.pipe()

        def fds() -> None:  # in the child: its command pipe on 3, its answers on 4
            os.dup2(to_browser, 3)
            os.dup2(from_browser, 4)

        binary = shutil.which("chromium") or "chromium"
        self.proc = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=fds,
            pass_fds=(3, 4),
        )
        os.close(to_browser)
        os.close(from_browser)
        self._buffer = b""
        self._next = 0
        self._events: list[dict[str, Any]] = []

    def _read(self) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            if not select.select([self._in], [], [], TIMEOUT)[0]:
                raise RuntimeError(f"chromium said nothing for {TIMEOUT:g} s")
            chunk = os.read(self._in, 1 << 16)
            if not chunk:
                raise RuntimeError("chromium closed its DevTools pipe")
            self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        return json.loads(message)

    def call(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        self._next += 1
        command: dict[str, Any] = {"id": self._next, "method": method, "params": params}
        if session:
            command["sessionId"] = session
        os.write(self._out, json.dumps(command).encode() + b"\0")
        while True:
            message = self._read()
            if message.get("id") == self._next:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]
            self._events.append(message)

    def wait(self, method: str) -> None:
        while not any(e.get("method") == method for e in self._events):
            self._events.append(self._read())

    def close(self) -> None:
        with contextlib.suppress(OSError, RuntimeError):
            self.call("Browser.close")
        os.close(self._out)
        os.close(self._in)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def open_report(html: Path) -> Opened:
    """Open `html` in a fresh headless Chromium (started beforehand, not timed)."""
    with tempfile.TemporaryDirectory(prefix="bench-chromium-") as profile:
        browser = DevTools(profile)
        try:
            target = browser.call("Target.createTarget", url="about:blank")["targetId"]
            session = browser.call("Target.attachToTarget", targetId=target, flatten=True)[
                "sessionId"
            ]
            browser.call("Page.enable", session)
            start = time.monotonic()
            browser.call("Page.navigate", session, url=html.resolve().as_uri())
            browser.wait("Page.loadEventFired")
            seconds = time.monotonic() - start
            facts = browser.call(
                "Runtime.evaluate", session, expression=PAGE_FACTS, returnByValue=True
            )
            page = json.loads(facts["result"]["value"])
        finally:
            browser.close()
    return Opened(seconds, page["load"] / 1000, page["rows"])
