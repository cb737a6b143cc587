"""A fake internet on loopback for the self-tests: the profile's real host names resolve
to local servers, and each fault (refused, dropped, reset, bad certificates, captive
portal, stale CRL, ...) has a host name of its own under netcheck.test.

Only usable inside an isolated network namespace (./selftest provides one).
"""

from __future__ import annotations

import gzip
import html
import json
import os
import re
import ssl
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from netcheck.profile import load
from netcheck.trust import spki_pin
from tests.fakenet import (
    DNSServer,
    HTTPProxy,
    RawServer,
    Response,
    TestCA,
    WebServer,
    ZoneEntry,
    dropped_port,
    make_crl,
)

REPO = Path(__file__).resolve().parent.parent
ORIGIN, ORIGIN6 = "198.18.1.1", "2001:db8:ffff::1"
LOCAL_NETWORK = "198.18.0.0/16"  # every address here is local to the self-tests' namespace
# The lab's DNS server: --nameserver in suite runs, and the system resolver of the self-tests'
# namespace (./selftest mounts tests/data/etc/resolv.conf and hosts there).
NAMESERVER = ("127.0.0.53", 53)
PROXY = ("127.0.4.1", 3128)
# The probe timeout of lab runs: generous, so a loaded 2-core CI machine never times out a
# healthy check; the faults that wait for it (dropped, silent, drip) cost this much once.
TIMEOUT = 4.0
AUTH_PROXY = ("127.0.4.2", 3128)
MITM_PROXY = ("127.0.4.5", 3128)  # inspects TLS with the inspection CA
V6_BROKEN_PORT = 8443  # v6broken.netcheck.test: IPv4 answers, IPv6 drops SYNs
PROXY_USER = ("alice", "s3cret-Pa55")
DEAD_PROXY = ("127.0.4.9", 3128)  # nothing listens here
NO_CONNECT_PROXY = ("127.0.4.3", 3128)  # answers 405 to CONNECT
CLOSING_PROXY = ("127.0.4.4", 3128)  # accepts CONNECT, closes the tunnel on the ClientHello
DEAD_NAMESERVER = "127.0.0.54:5353"  # nothing listens here
# How the report names the proxy setting of a lab run (Lab.run removes proxy variables).
NO_PROXY = "direct: no proxy set in the environment (HTTPS_PROXY, HTTP_PROXY, NO_PROXY)"
INSPECTION_ORG = "Contoso TLS Inspection"
# Denied hosts go through the filtering proxy, everything else direct.
PAC = f"""function FindProxyForURL(url, host) {{
  if (dnsDomainIs(host, "denied.netcheck.test")) return "PROXY {PROXY[0]}:{PROXY[1]}; DIRECT";
  return "DIRECT";
}}
"""
# Hosts behind middleboxes, as profile entries: TLS inspection (intercepted), a SAN-only
# wildcard certificate of the expected root (wildcard), each address family (dualstack),
# IPv6 published but dropped (v6broken).
MIDDLEBOX_ENDPOINTS = f"""
[[endpoint]]
url = "https://intercepted.netcheck.test/"
[[endpoint]]
url = "https://wildcard.netcheck.test/"
[[endpoint]]
url = "https://dualstack.netcheck.test/"
[[endpoint]]
url = "https://v6broken.netcheck.test:{V6_BROKEN_PORT}/"
id = "v6broken"
"""
# A profile for runs through a proxy: allowed and denied hosts, over HTTPS and plain HTTP.
PROXIED = """
[profile]
name = "lab behind a proxy"

[[endpoint]]
url = "https://ok.netcheck.test/"
[[endpoint]]
url = "http://ok.netcheck.test/plain"
[[endpoint]]
url = "https://denied.netcheck.test/"
[[endpoint]]
url = "http://denied.netcheck.test/plain"
[[endpoint]]
url = "https://proxyonly.netcheck.test/"
[[endpoint]]
url = "http://denied.netcheck.test/x.crl"
checks = ["crl"]
[[endpoint]]
url = "http://ok.netcheck.test/forbidden"
"""
CONNECT_TEST = b"Microsoft Connect Test"
NCSI_A, NCSI_AAAA = "131.107.255.255", "fd3e:4f5a:5b81::1"
MSOID_OK = "clientconfig.microsoftonline-p.net"
MSOID_VIANET = "clientconfig.partner.microsoftonline-p.net.cn"

# Fault hosts: name -> address. DNS faults and special records are in FAULT_ZONE.
FAULT_HOSTS = {
    "ok.netcheck.test": ORIGIN,
    "refused.netcheck.test": "198.18.2.1",
    "dropped.netcheck.test": "198.18.2.2",
    "reset.netcheck.test": "198.18.2.3",
    "expired.netcheck.test": "198.18.2.4",
    "wronghost.netcheck.test": "198.18.2.5",
    "tls13only.netcheck.test": "198.18.2.6",
    "nottls.netcheck.test": "198.18.2.7",
    "untrusted.netcheck.test": "198.18.2.8",
    "portal.netcheck.test": "198.18.3.1",
    "drip.netcheck.test": "198.18.3.2",
    "denied.netcheck.test": ORIGIN,
    "rstconnect.netcheck.test": "198.18.2.9",
    "closed.netcheck.test": "198.18.2.10",
    "tls10only.netcheck.test": "198.18.2.11",
    "stall.netcheck.test": "198.18.2.12",
    "intercepted.netcheck.test": "198.18.2.13",
    "wildcard.netcheck.test": "198.18.2.14",
}
DROPPED = FAULT_HOSTS["dropped.netcheck.test"]  # SYNs to port 443 are dropped
BLOCK_PAGE = "198.18.7.1"  # a DNS filter's block page: answers 200 on ports 80 and 443
FAULT_ZONE = {
    # DNS filters and resolvers that mishandle AAAA (tests/test_resolver.py).
    "sinkhole0.netcheck.test": ZoneEntry(a=["0.0.0.0"], aaaa=["::"]),
    "sinkhole127.netcheck.test": ZoneEntry(a=["127.0.0.1"], aaaa=["::1"]),
    "blockpage.netcheck.test": ZoneEntry(a=[BLOCK_PAGE]),
    "aaaadrop.netcheck.test": ZoneEntry(a=[ORIGIN], aaaa=[ORIGIN6], aaaa_fault="timeout"),
    "aaaaservfail.netcheck.test": ZoneEntry(a=[ORIGIN], aaaa=[ORIGIN6], aaaa_fault="servfail"),
    "aaaanxdomain.netcheck.test": ZoneEntry(a=[ORIGIN], aaaa=[ORIGIN6], aaaa_fault="nxdomain"),
    "deadfirst.netcheck.test": ZoneEntry(a=[DROPPED, ORIGIN]),
    "deadlast.netcheck.test": ZoneEntry(a=[ORIGIN, DROPPED]),
    # Pinned by the self-tests' hosts file (tests/data/etc/hosts); DNS answers the origin.
    "pinned0.netcheck.test": ZoneEntry(a=[ORIGIN]),
    "pinned127.netcheck.test": ZoneEntry(a=[ORIGIN]),
    "stalepin.netcheck.test": ZoneEntry(a=[ORIGIN]),
    "servfail.netcheck.test": ZoneEntry(fault="servfail"),
    "dnstimeout.netcheck.test": ZoneEntry(fault="timeout"),
    "nodata.netcheck.test": ZoneEntry(fault="nodata"),
    "dnsrefused.netcheck.test": ZoneEntry(fault="refused"),
    "truncated.netcheck.test": ZoneEntry(a=[ORIGIN], fault="truncate"),
    "cnameloop.netcheck.test": ZoneEntry(cname="cnameloop2.netcheck.test"),
    "cnameloop2.netcheck.test": ZoneEntry(cname="cnameloop.netcheck.test"),
    "noroute6.netcheck.test": ZoneEntry(aaaa=["2001:db8::dead"]),
    "ipv6.netcheck.test": ZoneEntry(aaaa=[ORIGIN6]),
    "dualstack.netcheck.test": ZoneEntry(a=[ORIGIN], aaaa=[ORIGIN6]),
    "v6broken.netcheck.test": ZoneEntry(a=[ORIGIN], aaaa=[ORIGIN6]),
    "ncsi-wrong.netcheck.test": ZoneEntry(a=["10.11.12.13"]),
    "msoid.good.test": ZoneEntry(cname=MSOID_OK),
    "msoid.vianet.test": ZoneEntry(cname=MSOID_VIANET),
    "msoid.elsewhere.test": ZoneEntry(cname="autodiscover.outlook.com"),
    "msoid.broken.test": ZoneEntry(fault="servfail"),
    "dns.msftncsi.com": ZoneEntry(a=[NCSI_A], aaaa=[NCSI_AAAA]),
}


def proxy_url(address: tuple[str, int], userinfo: str = "") -> str:
    """The URL of one of the lab's proxies, as --proxy takes it and the report shows it."""
    return f"http://{userinfo}{address[0]}:{address[1]}"


def gzip_bomb() -> Response:
    """1 GiB of zeros as 64 concatenated gzip members: 1 MiB on the wire, served as
    Content-Encoding: gzip. netcheck asks for identity and must never inflate it."""
    return Response(
        body=gzip.compress(bytes(1 << 24), 9, mtime=0) * 64, headers={"Content-Encoding": "gzip"}
    )


@dataclass
class Case:
    """One test of a suite run, as JUnit XML recorded it."""

    outcome: str  # passed, failed, skipped, xfailed, error
    message: str
    props: dict[str, str]


@dataclass
class SuiteRun:
    exit_code: int
    output: str
    cases: dict[str, Case]
    html: str
    junit: str
    results: dict  # the JSON results file (empty if none was written)
    elapsed: float  # wall time of the whole pytest process
    report_path: Path

    def verdict(self, name: str) -> tuple[str, str, str]:
        case = self.cases[name]
        return case.outcome, case.props.get("layer", ""), case.props.get("cause", "")

    def deadline(self, name: str, timeout: float) -> float:
        """The deadline the check called `name` had: its timeout, and the time the engine
        gave back because the machine was busy (evidence `deadline_extended`)."""
        (rec,) = [r for r in self.results["results"] if r["id"].endswith(f"::{name}")]
        return timeout + float(rec["evidence"].get("deadline_extended", "0 s").split()[0])

    def rows(self, name: str) -> list[dict]:
        """The HTML report's rows (pytest-html data) of the test called `name`."""
        tests = report_data(self.html)["tests"]
        return [row for tid, rows in tests.items() if tid.endswith(f"::{name}") for row in rows]

    def evidence(self, name: str) -> str:
        """The evidence table (HTML) the report shows for the test called `name`."""
        (row,) = self.rows(name)
        return row["extras"][0]["content"]


def report_data(page: str) -> dict:
    """The data pytest-html embeds in its report and renders with JavaScript."""
    blob = re.search(r'data-jsonblob="([^"]*)"', page)
    assert blob, "pytest-html data blob not found"
    return json.loads(html.unescape(blob.group(1)))


@dataclass
class Lab:
    """`ca` plays the public CA (an expected root in every run); ca_pem also holds a
    TLS-inspection CA, trusted as on managed desktops, that no profile expects."""

    ca: TestCA
    ca_pem: Path
    dns: DNSServer
    origin_http: WebServer
    workdir: Path
    stack: ExitStack = field(default_factory=ExitStack)
    lock: threading.Lock = field(default_factory=threading.Lock)
    runs: int = 0

    @property
    def nameserver(self) -> str:
        return self.dns.nameserver

    def run(
        self,
        profile: str | Path | None = None,
        *args: str,
        timeout: float = TIMEOUT,
        expected_root: str | None = "lab",
        nameserver: str | None = None,
        env: dict[str, str] | None = None,
    ) -> SuiteRun:
        """Run the real suite (pytest at the repository root) against this lab.

        `nameserver` replaces the lab's; `env` adds variables (the lab's proxy variables are
        removed). Safe to call from several threads at once. The lab CA stands for the public
        roots: it is an expected root of every HTTPS endpoint unless `expected_root` is None
        (then only the profile's apply).
        """
        with self.lock:
            self.runs += 1
            out = self.workdir / f"run{self.runs}"
        out.mkdir()
        if isinstance(profile, str):
            (out / "profile.toml").write_text(profile)
            profile = out / "profile.toml"
        cmd = [
            sys.executable,
            "-m",
            "pytest",
            f"--nameserver={nameserver or self.nameserver}",
            f"--ca-bundle={self.ca_pem}",
            f"--probe-timeout={timeout}",
            f"--junitxml={out / 'junit.xml'}",
            f"--html={out / 'report.html'}",
            "--ignore=tests_network/test_host.py",  # Windows only: this lab is about the network
            *args,
        ]
        if expected_root:
            cmd.append(f"--expected-root={spki_pin(self.ca.certificate)}")
        if profile:
            cmd.append(f"--endpoints={profile}")
        environ = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
        start = time.monotonic()
        proc = subprocess.run(
            cmd, cwd=REPO, env=environ | (env or {}), capture_output=True, text=True, timeout=120
        )
        elapsed = time.monotonic() - start
        junit, report, results = out / "junit.xml", out / "report.html", out / "results.json"
        return SuiteRun(
            proc.returncode,
            proc.stdout + proc.stderr,
            parse_junit(junit) if junit.exists() else {},
            report.read_text() if report.exists() else "",
            junit.read_text() if junit.exists() else "",
            json.loads(results.read_text()) if results.exists() else {},
            elapsed,
            report,
        )


def parse_junit(path: Path) -> dict[str, Case]:
    cases = {}
    for tc in ET.parse(path).getroot().iter("testcase"):
        props = {p.get("name", ""): p.get("value", "") for p in tc.iter("property")}
        outcome, message = "passed", ""
        for tag in ("failure", "error", "skipped"):
            if (node := tc.find(tag)) is not None:
                outcome = {"failure": "failed"}.get(tag, tag)
                if node.get("type") == "pytest.xfail":
                    outcome = "xfailed"
                message = (node.get("message") or "") + (node.text or "")
        cases[tc.get("name", "")] = Case(outcome, message, props)
    return cases


def start(workdir: Path) -> Lab:
    """Start DNS, origin web servers, fault servers and proxies; stop them with lab.stack."""
    stack = ExitStack()
    ca, other_ca = TestCA(), TestCA()
    profile = load(REPO / "endpoints.toml")
    real_hosts = {e.host for e in profile.endpoints if e.family != "ipv6"}
    ipv6_hosts = {e.host for e in profile.endpoints if e.family == "ipv6"}
    extra = {"proxyonly.netcheck.test", "truncated.netcheck.test"}
    names = sorted(real_hosts | ipv6_hosts | set(FAULT_HOSTS) | set(FAULT_ZONE) | extra)

    zone = {h: ZoneEntry(a=[ORIGIN], aaaa=[ORIGIN6]) for h in real_hosts}  # dual-stack
    zone |= {h: ZoneEntry(aaaa=[ORIGIN6]) for h in ipv6_hosts}
    zone |= {h: ZoneEntry(a=[a]) for h, a in FAULT_HOSTS.items()}
    zone |= FAULT_ZONE
    dns = stack.enter_context(DNSServer(zone, *NAMESERVER))

    now = datetime.now(UTC)
    fresh_crl = make_crl(
        ca, last_update=now - timedelta(hours=1), next_update=now + timedelta(days=7)
    )
    stale_crl = make_crl(
        ca, last_update=now - timedelta(days=20), next_update=now - timedelta(days=3)
    )
    pem_crl = make_crl(ca, pem=True, last_update=now, next_update=now + timedelta(days=1))
    routes: dict = {"*": Response(body=b"netcheck lab origin")}
    bomb = gzip_bomb()
    for e in profile.endpoints:
        if e.expect_body:
            routes[(e.host, e.path)] = Response(body=e.expect_body.encode())
        if "crl" in e.checks:
            routes[(e.host, e.path)] = Response(body=fresh_crl)
    routes |= {
        ("ok.netcheck.test", "/crl.crl"): Response(body=pem_crl),
        ("ok.netcheck.test", "/stale.crl"): Response(body=stale_crl),
        ("ok.netcheck.test", "/slow.crl"): Response(body=fresh_crl, body_delay=0.3),
        ("ok.netcheck.test", "/html.crl"): Response(body=b"<html>Please log in</html>"),
        ("ok.netcheck.test", "/missing.crl"): Response(status=404, body=b"not found"),
        ("ok.netcheck.test", "/forbidden"): Response(status=403, body=b"origin says no"),
        ("ok.netcheck.test", "/proxy.pac"): Response(body=PAC.encode()),
        ("ok.netcheck.test", "/connecttest.txt"): Response(body=CONNECT_TEST),
        ("ok.netcheck.test", "/wrongbody.txt"): Response(body=b"<html>Hotel WiFi</html>"),
        ("ipv6.netcheck.test", "/connecttest.txt"): Response(body=CONNECT_TEST),
        ("ok.netcheck.test", "/endless.crl"): Response(endless=True),
        ("ok.netcheck.test", "/huge.crl"): Response(
            endless=True, headers={"Content-Length": str(10**12)}
        ),
        ("ok.netcheck.test", "/loop.txt"): Response.redirect("http://ok.netcheck.test/loop.txt"),
        ("ok.netcheck.test", "/loop.crl"): Response.redirect("http://ok.netcheck.test/loop.crl"),
        ("ok.netcheck.test", "/500.crl"): Response(500, b"internal error"),
        ("ok.netcheck.test", "/503.txt"): Response(503, b"try later"),
        ("ok.netcheck.test", "/503"): Response(503, b"try later"),
        ("ok.netcheck.test", "/badstatus.txt"): Response(raw=b"HTTP/1.1 2OO OK\r\n\r\nhi"),
        ("ok.netcheck.test", "/bomb.crl"): bomb,
        ("ok.netcheck.test", "/bomb.txt"): bomb,
    }
    https = ca.server_context(*names)
    for address in (ORIGIN, ORIGIN6):
        stack.enter_context(WebServer(address, 443, tls=https, routes=routes))
    origin_http = stack.enter_context(WebServer(ORIGIN, 80, routes=routes))
    stack.enter_context(WebServer(ORIGIN6, 80, routes=routes))

    host = FAULT_HOSTS
    stack.enter_context(dropped_port(host["dropped.netcheck.test"], 443))
    stack.enter_context(RawServer(host["reset.netcheck.test"], 443, "reset_after_hello"))
    stack.enter_context(RawServer(host["nottls.netcheck.test"], 443, "garbage"))
    for name, cert in (
        ("expired.netcheck.test", ca.expired_cert("expired.netcheck.test")),
        ("wronghost.netcheck.test", ca.wrong_host_cert()),
        ("untrusted.netcheck.test", other_ca.issue_cert("untrusted.netcheck.test")),
        ("wildcard.netcheck.test", ca.issue_cert("*.netcheck.test")),  # SAN only, wildcard
    ):
        ctx = ca.server_context(name, cert=cert)
        stack.enter_context(WebServer(host[name], 443, tls=ctx, routes=routes))
    tls13 = ca.server_context("tls13only.netcheck.test", minimum_version=ssl.TLSVersion.TLSv1_3)
    stack.enter_context(WebServer(host["tls13only.netcheck.test"], 443, tls=tls13, routes=routes))
    legacy = ca.server_context(
        "tls10only.netcheck.test",
        minimum_version=ssl.TLSVersion.TLSv1,
        maximum_version=ssl.TLSVersion.TLSv1_1,
    )
    stack.enter_context(WebServer(host["tls10only.netcheck.test"], 443, tls=legacy, routes=routes))
    for port in (80, 443):
        stack.enter_context(RawServer(host["rstconnect.netcheck.test"], port, "reset"))
        stack.enter_context(RawServer(host["closed.netcheck.test"], port, "close"))
    stack.enter_context(RawServer(host["stall.netcheck.test"], 443, "stall_tls"))
    inspection_ca = TestCA(organization_name=INSPECTION_ORG)
    intercepted = ca.server_context(cert=inspection_ca.issue_cert("intercepted.netcheck.test"))
    stack.enter_context(
        WebServer(host["intercepted.netcheck.test"], 443, tls=intercepted, routes=routes)
    )
    stack.enter_context(
        WebServer(
            host["portal.netcheck.test"],
            80,
            routes={"*": Response.redirect("http://portal.netcheck.test/login?next=connecttest")},
        )
    )
    stack.enter_context(
        WebServer(
            host["drip.netcheck.test"], 80, routes={"*": Response(body=CONNECT_TEST, drip=0.3)}
        )
    )
    blocked = {"*": Response(body=b"<html>Blocked by your organisation's DNS filter</html>")}
    stack.enter_context(WebServer(BLOCK_PAGE, 80, routes=blocked))
    block_tls = ca.server_context(cert=ca.issue_cert("filter.example"))
    stack.enter_context(WebServer(BLOCK_PAGE, 443, tls=block_tls, routes=blocked))

    def proxy_resolve(name: str) -> str:  # the proxy knows one name the client cannot resolve
        return ORIGIN if name == "proxyonly.netcheck.test" else dns.resolve(name)

    stack.enter_context(HTTPProxy(*PROXY, deny={"denied.netcheck.test"}, resolver=proxy_resolve))
    stack.enter_context(HTTPProxy(*AUTH_PROXY, require_auth=PROXY_USER, resolver=dns.resolve))
    no_connect = b"HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD\r\nVia: 1.1 corp-proxy\r\n"
    stack.enter_context(
        RawServer(*NO_CONNECT_PROXY, "answer", payload=no_connect + b"Content-Length: 0\r\n\r\n")
    )
    established = b"HTTP/1.1 200 Connection established\r\n\r\n"
    stack.enter_context(RawServer(*CLOSING_PROXY, "answer", payload=established))
    bump = (inspection_ca, ca.client_context())
    stack.enter_context(HTTPProxy(*MITM_PROXY, resolver=dns.resolve, mitm=bump))
    stack.enter_context(WebServer(ORIGIN, V6_BROKEN_PORT, tls=https, routes=routes))
    stack.enter_context(dropped_port(ORIGIN6, V6_BROKEN_PORT))

    # The client trusts the lab's CA and a TLS-inspection CA, as managed desktops do.
    ca_pem = workdir / "lab-ca.pem"
    ca_pem.write_bytes(ca.cert_pem.bytes() + inspection_ca.cert_pem.bytes())
    return Lab(ca, ca_pem, dns, origin_http, workdir, stack)
