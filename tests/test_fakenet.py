"""Self-tests for tests/fakenet. Run inside a private network namespace:

unshare -rn sh -c 'ip link set lo up && python3 -m pytest tests/test_fakenet.py -q'
"""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import threading
import time
from collections.abc import Iterator

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import pytest
from cryptography import x509

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

LOGIN = "login.microsoftonline.com"
WEB_IP = "127.0.2.1"


@pytest.fixture(scope="module")
def ca() -> TestCA:
    return TestCA()


@pytest.fixture
def dns_server() -> Iterator[DNSServer]:
    records = {
        LOGIN: ZoneEntry(cname="login.mso.msidentity.com"),
        "login.mso.msidentity.com": ZoneEntry(a=[WEB_IP], aaaa=["::1"]),
        "txt.example": ZoneEntry(txt=['v=spf1 "quoted" -all']),
        "loop1.example": ZoneEntry(cname="loop2.example"),
        "loop2.example": ZoneEntry(cname="loop1.example."),
        "fail.example": ZoneEntry(a=["127.0.0.9"], fault="servfail"),
        "refused.example": ZoneEntry(fault="refused"),
        "slow.example": ZoneEntry(a=["127.0.0.9"], fault="timeout"),
        "nodata.example": ZoneEntry(a=["127.0.0.9"], fault="nodata"),
        "big.example": ZoneEntry(a=[f"127.0.3.{i}" for i in range(1, 4)], fault="truncate"),
    }
    with DNSServer(records, address="127.0.1.53") as server:
        yield server


def ask(server: DNSServer, name: str, rdtype: str = "A", tcp: bool = False) -> dns.message.Message:
    query = dns.message.make_query(name, rdtype)
    send = dns.query.tcp if tcp else dns.query.udp
    return send(query, server.address, port=server.port, timeout=1)


def fetch(
    port: int,
    request: bytes,
    *,
    address: str = WEB_IP,
    ctx: ssl.SSLContext | None = None,
    sni: str | None = None,
    timeout: float = 2.0,
) -> bytes:
    """Send *request* and read to EOF (optionally over TLS)."""
    sock = socket.create_connection((address, port), timeout=timeout)
    with ctx.wrap_socket(sock, server_hostname=sni) if ctx else sock as sock:
        sock.sendall(request)
        return read_all(sock)


def read_all(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def get(host: str, path: str = "/") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()


# -- DNS -------------------------------------------------------------------------------


def test_dns_answers_follow_cname(dns_server: DNSServer) -> None:
    res = dns_server.resolver()
    answer = res.resolve(LOGIN, "A")
    assert [r.to_text() for r in answer] == [WEB_IP]
    assert answer.canonical_name.to_text() == "login.mso.msidentity.com."
    assert len(answer.response.answer) == 2  # CNAME + A, like a recursive resolver
    assert [r.to_text() for r in res.resolve(LOGIN, "AAAA")] == ["::1"]
    assert res.resolve("txt.example", "TXT")[0].strings == (b'v=spf1 "quoted" -all',)
    assert dns_server.resolve(LOGIN) == WEB_IP
    assert dns_server.queries[LOGIN] == 3
    assert dns_server.queries["never.example"] == 0


def test_dns_rcodes_and_faults(dns_server: DNSServer) -> None:
    assert ask(dns_server, "missing.example").rcode() == dns.rcode.NXDOMAIN
    assert ask(dns_server, "fail.example").rcode() == dns.rcode.SERVFAIL
    assert ask(dns_server, "refused.example").rcode() == dns.rcode.REFUSED
    nodata = ask(dns_server, "nodata.example")
    assert (nodata.rcode(), nodata.answer) == (dns.rcode.NOERROR, [])
    with pytest.raises(dns.exception.Timeout):
        dns.query.udp(
            dns.message.make_query("slow.example", "A"),
            dns_server.address,
            port=dns_server.port,
            timeout=0.3,
        )
    loop = ask(dns_server, "loop1.example")
    assert [rr.rdtype for rr in loop.answer] == [dns.rdatatype.CNAME] * 2
    with pytest.raises(socket.gaierror):
        dns_server.resolve("missing.example")


def test_dns_truncation_falls_back_to_tcp(dns_server: DNSServer) -> None:
    udp = ask(dns_server, "big.example")
    assert udp.flags & dns.flags.TC and not udp.answer
    assert len(ask(dns_server, "big.example", tcp=True).answer[0]) == 3
    assert len(dns_server.resolver().resolve("big.example", "A")) == 3  # dnspython retries TCP
    assert [q.transport for q in dns_server.log[-2:]] == ["udp", "tcp"]


def test_dns_records_change_while_running(dns_server: DNSServer) -> None:
    dns_server.set("new.example", ZoneEntry(a=["127.0.0.7"]))
    assert dns_server.resolve("new.example") == "127.0.0.7"
    dns_server.set("new.example", ZoneEntry(fault="servfail"))
    assert ask(dns_server, "new.example").rcode() == dns.rcode.SERVFAIL
    assert dns_server.nameserver == "127.0.1.53:53"


# -- TLS / web -------------------------------------------------------------------------


def test_https_get_and_routes(ca: TestCA, tmp_path) -> None:
    routes = {
        "/ok": Response(body=b"exact body"),
        (LOGIN, "/host"): Response(body=b"for login"),
        "/portal": Response.redirect("http://captive.example/login"),
        "/teapot": Response(418, headers={"X-Test": "1"}),
        "/raw": Response(raw=b"NOT HTTP AT ALL"),
        "/drip": Response(body=b"done", drip=0.002),
        "/echo": lambda req: Response(body=req.body[::-1]),
    }
    assert ca.write_pem(tmp_path / "ca.pem").read_bytes().startswith(b"-----BEGIN CERT")
    with WebServer(WEB_IP, 443, tls=ca.server_context(LOGIN), routes=routes) as web:
        client = ca.client_context()
        ok = fetch(443, get(LOGIN, "/ok?x=1"), ctx=client, sni=LOGIN)
        assert ok.startswith(b"HTTP/1.1 200 OK\r\n") and ok.endswith(b"\r\n\r\nexact body")
        assert fetch(443, get(LOGIN, "/host"), ctx=client, sni=LOGIN).endswith(b"for login")
        portal = fetch(443, get(LOGIN, "/portal"), ctx=client, sni=LOGIN)
        assert b" 302 Found\r\n" in portal and b"Location: http://captive.example/login" in portal
        assert b"418 I'm a Teapot" in fetch(443, get(LOGIN, "/teapot"), ctx=client, sni=LOGIN)
        assert fetch(443, get(LOGIN, "/raw"), ctx=client, sni=LOGIN) == b"NOT HTTP AT ALL"
        assert b" 404 " in fetch(443, get(LOGIN, "/nope"), ctx=client, sni=LOGIN)
        start = time.monotonic()
        assert fetch(443, get(LOGIN, "/drip"), ctx=client, sni=LOGIN).endswith(b"done")
        assert time.monotonic() - start > 0.1
        post = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
        assert fetch(443, post, ctx=client, sni=LOGIN).endswith(b"cba")
    assert [(r.method, r.path, r.host) for r in web.requests[:2]] == [
        ("GET", "/ok?x=1", LOGIN),
        ("GET", "/host", LOGIN),
    ]


def test_endless_body_stops_cleanly() -> None:
    with (
        WebServer(WEB_IP, 80, routes={"*": Response(endless=True)}) as web,
        socket.create_connection((WEB_IP, 80), timeout=2) as sock,
    ):
        sock.sendall(get("x"))
        received = 0
        while received < 1_000_000:
            received += len(sock.recv(65536))
    assert not [t for t in web._threads if t.is_alive()]


@pytest.mark.parametrize(
    ("make_ctx", "error"),
    [
        (lambda ca: ca.server_context(cert=ca.expired_cert(LOGIN)), "certificate has expired"),
        (lambda ca: ca.server_context(cert=ca.wrong_host_cert()), "Hostname mismatch"),
    ],
)
def test_bad_certificates_fail_verification(ca: TestCA, make_ctx, error: str) -> None:
    with (
        WebServer(WEB_IP, 443, tls=make_ctx(ca)),
        pytest.raises(ssl.SSLCertVerificationError, match=error),
    ):
        fetch(443, get(LOGIN), ctx=ca.client_context(), sni=LOGIN)


def test_tls_version_pinning(ca: TestCA) -> None:
    tls13 = ca.server_context(LOGIN, minimum_version=ssl.TLSVersion.TLSv1_3)
    legacy = ca.server_context(LOGIN, maximum_version=ssl.TLSVersion.TLSv1_1)
    with WebServer(WEB_IP, 443, tls=tls13), WebServer(WEB_IP, 8443, tls=legacy):
        client = ca.client_context()
        assert fetch(443, get(LOGIN), ctx=client, sni=LOGIN).startswith(b"HTTP/1.1 404")
        client.maximum_version = ssl.TLSVersion.TLSv1_2
        with pytest.raises(ssl.SSLError):
            fetch(443, get(LOGIN), ctx=client, sni=LOGIN)
        with pytest.raises(ssl.SSLError):  # a modern client refuses TLS <= 1.1
            fetch(8443, get(LOGIN), ctx=ca.client_context(), sni=LOGIN)


# -- TCP faults ------------------------------------------------------------------------


def test_raw_faults(ca: TestCA) -> None:
    port = 443
    with RawServer(WEB_IP, port, "reset"), socket.create_connection((WEB_IP, port)) as s:
        s.settimeout(2)
        with pytest.raises(ConnectionResetError):
            s.sendall(b"hello")
            s.recv(10)
    with RawServer(WEB_IP, port, "close"), socket.create_connection((WEB_IP, port)) as s:
        s.settimeout(2)
        s.sendall(b"hello")
        assert s.recv(10) == b""
    for behaviour in ("silent", "stall_tls"):
        with RawServer(WEB_IP, port, behaviour), pytest.raises(TimeoutError):
            fetch(port, b"", ctx=ca.client_context(), sni=LOGIN, timeout=0.3)
    with RawServer(WEB_IP, port, "garbage"), pytest.raises(ssl.SSLError):
        fetch(port, b"", ctx=ca.client_context(), sni=LOGIN)


def test_dropped_port_times_out() -> None:
    with dropped_port(WEB_IP, 443) as (address, port), pytest.raises(TimeoutError):
        socket.create_connection((address, port), timeout=0.3)


# -- proxy -----------------------------------------------------------------------------


@pytest.fixture
def origin(ca: TestCA, dns_server: DNSServer) -> Iterator[WebServer]:
    routes = {"/": Response(body=b"origin says hi")}
    with (
        WebServer(WEB_IP, 443, tls=ca.server_context(LOGIN), routes=routes) as web,
        WebServer(WEB_IP, 80, routes=routes),
    ):
        yield web


def connect_via(proxy: HTTPProxy, target: str, auth: str = "") -> socket.socket:
    sock = socket.create_connection((proxy.address, proxy.port), timeout=2)
    sock.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n{auth}\r\n".encode())
    return sock


# 127.0.4.9, not the lab's proxy address: the session-wide lab may already be running.
def test_proxy_connect_tunnel_and_denial(
    ca: TestCA, dns_server: DNSServer, origin: WebServer
) -> None:
    with HTTPProxy(
        "127.0.4.9", 3128, deny={".blocked.example"}, resolver=dns_server.resolve
    ) as proxy:
        with connect_via(proxy, f"{LOGIN}:443") as sock:
            assert sock.recv(100).startswith(b"HTTP/1.1 200 ")
            with ca.client_context().wrap_socket(sock, server_hostname=LOGIN) as tls:
                tls.sendall(get(LOGIN))
                assert read_all(tls).endswith(b"origin says hi")
        denied = fetch(3128, b"CONNECT a.blocked.example:443 HTTP/1.1\r\n\r\n", address="127.0.4.9")
        assert denied.startswith(b"HTTP/1.1 403 Forbidden\r\n")
        assert b"X-Squid-Error: ERR_ACCESS_DENIED 0" in denied and b"Via: 1.1 fakeproxy" in denied
        nxdomain = fetch(3128, b"CONNECT nope.example:443 HTTP/1.1\r\n\r\n", address="127.0.4.9")
        assert nxdomain.startswith(b"HTTP/1.1 503")
        relayed = fetch(3128, get(LOGIN, f"http://{LOGIN}/"), address="127.0.4.9")
        assert relayed.startswith(b"HTTP/1.1 200 OK\r\nVia: 1.1 fakeproxy\r\n")
        assert relayed.endswith(b"origin says hi")
    assert dns_server.queries["a.blocked.example"] == 0
    assert [(r.method, r.target) for r in proxy.requests] == [
        ("CONNECT", f"{LOGIN}:443"),
        ("CONNECT", "a.blocked.example:443"),
        ("CONNECT", "nope.example:443"),
        ("GET", f"http://{LOGIN}/"),
    ]


def test_proxy_requires_auth(dns_server: DNSServer, origin: WebServer) -> None:
    with HTTPProxy(
        "127.0.4.9", 3128, require_auth=("user", "pw"), resolver=dns_server.resolve
    ) as proxy:
        with connect_via(proxy, f"{LOGIN}:443") as sock:
            reply = sock.recv(4096)
        assert reply.startswith(b"HTTP/1.1 407 Proxy Authentication Required\r\n")
        assert b'Proxy-Authenticate: Basic realm="fake"' in reply
        auth = "Proxy-Authorization: Basic dXNlcjpwdw==\r\n"
        with connect_via(proxy, f"{LOGIN}:443", auth) as sock:
            assert sock.recv(100).startswith(b"HTTP/1.1 200 ")
    assert [r.had_auth for r in proxy.requests] == [False, True]


# -- CRL and lifecycle -----------------------------------------------------------------


def test_crl(ca: TestCA) -> None:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    der = make_crl(ca, last_update=now - dt.timedelta(days=1), next_update=now, revoked=2)
    crl = x509.load_der_x509_crl(der)
    assert crl.next_update_utc == now and len(crl) == 2
    assert crl.is_signature_valid(ca.certificate.public_key())  # type: ignore[arg-type]
    pem = make_crl(ca, last_update=now, next_update=now, revoked=[42], pem=True)
    assert x509.load_pem_x509_crl(pem).get_revoked_certificate_by_serial_number(42)


def test_stop_releases_ports_and_threads(dns_server: DNSServer) -> None:
    before = threading.active_count()
    for _ in range(2):  # same ports twice: the first exit really freed them
        with WebServer(WEB_IP, 80) as web, RawServer(WEB_IP, 443, "silent"):
            socket.create_connection((WEB_IP, 443)).close()
            conn = socket.create_connection((WEB_IP, 80))  # left open on purpose
        conn.close()
        assert web.port == 80
    assert threading.active_count() == before
