"""The report as an attack surface: whatever a profile or the network puts in it shows as
text in a real browser (headless Chromium) and never runs.

Every payload tries to set document.title to "pwned"; each carries the name of the channel
it came through, so the test can also see that each one arrived, as text.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakenet import RawServer, Response, WebServer, ZoneEntry
from tests.loopback_lab import ORIGIN, Lab, SuiteRun

SCRIPT = "<script>document.title=/pwned/.source</script>"


def img(channel: str) -> str:
    """Breaks out of an attribute, then runs on load: short enough for a 64-byte excerpt."""
    return f'"><img src=x id={channel} onerror=document.title=/pwned/.source>'


def payload(channel: str) -> str:
    return img(channel) + SCRIPT


CERT_HOST, WEB_HOST = "xss-cert.netcheck.test", "xss.netcheck.test"
CERT_ADDRESS, PROXY_ADDRESS = "198.18.6.1", "127.0.6.2"
PROFILE = f"""
[profile]
name = {json.dumps(payload("name"))}
description = {json.dumps(payload("description"))}

[[endpoint]]
url = "https://ok.netcheck.test/"
id = {json.dumps(payload("id"))}
notes = {json.dumps(payload("notes"))}
category = {json.dumps(payload("category"))}
checks = ["firewall"]
[[endpoint]]
url = "https://{CERT_HOST}/"
checks = ["firewall"]

[[ncsi_web]]
url = "http://{WEB_HOST}/body.txt"
expect_body = "Microsoft Connect Test"
[[ncsi_web]]
url = "http://{WEB_HOST}/redirect.txt"
expect_body = "Microsoft Connect Test"
"""
# What each channel reaches the report through; all but "notes" and "category" are shown.
CHANNELS = ["name", "description", "id", "body", "location", "header", "subject", "metadata"]


@pytest.fixture(scope="module")
def hostile(lab: Lab) -> Iterator[SuiteRun]:
    """A run whose profile, servers, proxy and certificates all carry payloads."""
    lab.dns.set(WEB_HOST, ZoneEntry(a=[ORIGIN]))
    lab.dns.set(CERT_HOST, ZoneEntry(a=[CERT_ADDRESS]))
    lab.origin_http.route("/body.txt", Response(body=payload("body").encode()), host=WEB_HOST)
    lab.origin_http.route("/redirect.txt", Response.redirect(payload("location")), host=WEB_HOST)
    cert = lab.ca.issue_cert(CERT_HOST, common_name=img("subject"), organization_name=SCRIPT)
    block = (
        "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n"
        f"Via: 1.1 {payload('header')}\r\nX-Squid-Error: {payload('header')}\r\n\r\n"
    )
    with (
        WebServer(CERT_ADDRESS, 443, tls=lab.ca.server_context(cert=cert)),
        RawServer(PROXY_ADDRESS, 3128, "answer", payload=block.encode("latin-1")),
    ):
        proxy = f"http://alice:s3cret-Pa55@{PROXY_ADDRESS}:3128"
        env = {"HTTPS_PROXY": proxy, "NO_PROXY": CERT_HOST}
        yield lab.run(PROFILE, "--metadata", "evil", payload("metadata"), env=env)


def test_payloads_reach_the_report_through_every_channel(hostile: SuiteRun) -> None:
    """The run itself: each hostile input produced the verdict that carries it."""
    assert hostile.verdict(f"test_firewall[{payload('id')}]") == ("failed", "proxy", "proxy_denied")
    assert hostile.verdict(f"test_firewall[{CERT_HOST}]") == ("passed", "", "")
    assert hostile.verdict(f"test_ncsi_web[{WEB_HOST}/body.txt]")[2] == "wrong_content"
    assert hostile.verdict(f"test_ncsi_web[{WEB_HOST}/redirect.txt]")[2] == "http_redirect"
    assert "s3cret-Pa55" not in hostile.html + hostile.junit + hostile.output


def chromium_dom(page: Path, profile_dir: Path, size: tuple[int, int] = (1400, 900)) -> str:
    """The DOM after the page's scripts ran, as headless Chromium serializes it."""
    browser = shutil.which("chromium")
    if browser is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    cmd = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile_dir}",
        f"--window-size={size[0]},{size[1]}",
        "--virtual-time-budget=5000",  # let onload and onerror handlers run
        "--dump-dom",
        page.as_uri(),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "</html>" in proc.stdout, proc.stderr[-2000:]
    return proc.stdout


def test_browser_would_run_these_payloads_if_unescaped(tmp_path: Path) -> None:
    """Control: the same payloads, unescaped, do run in this browser and set the marker."""
    for channel in ("body", "header"):
        page = tmp_path / f"{channel}.html"
        page.write_text(f"<html><head><title>safe</title></head><body>{payload(channel)}</body>")
        assert "<title>pwned</title>" in chromium_dom(page, tmp_path / f"profile-{channel}")


def test_report_shows_every_payload_as_text_and_runs_none(
    hostile: SuiteRun, tmp_path: Path
) -> None:
    dom = chromium_dom(hostile.report_path, tmp_path / "profile")
    assert re.search(r"<title[^>]*>netcheck report</title>", dom)  # no payload changed it
    assert "pwned</title>" not in dom
    assert '<img src="x"' not in dom  # no payload became an element
    assert "<script>document.title" not in dom
    shown = {c for c in CHANNELS if html.escape(f"<img src=x id={c} onerror=", quote=False) in dom}
    assert shown == set(CHANNELS)
