"""Proxies as corporate networks run them (issue: fidelity of the proxy): where the proxy
comes from, the schemes a proxy asks for, answers the proxy made itself, its own failures,
PAC files within the deadline. Faults in-process against the engine; the real squid with
NTLM and with Negotiate against a real KDC is in the namespace lab (lab/scenarios)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from netcheck import winproxy
from netcheck.engine import Check, run
from netcheck.net import Nameserver, Network, Proxy
from netcheck.net import proxy as proxies
from netcheck.net.auth import Credentials, ProxyAuth, offered
from netcheck.net.pac import Pac, PacError, parse_choice, shown
from netcheck.net.resolve import Resolver
from netcheck.net.tls import Trust
from netcheck.profile import Endpoint, TlsPolicy
from netcheck.result import Result
from netcheck.trust import spki_pin
from netcheck.url import Url
from tests.fakenet import NTLMProxy, RawServer
from tests.loopback_lab import AUTH_PROXY, ORIGIN, PROXY, Lab

TIMEOUT = 2.0
ADDRESS = "127.0.5.1"  # this module's misbehaving proxies
GATEWAY = b"HTTP/1.1 502 Bad Gateway\r\nProxy-Status: corp; error=connection_refused\r\n\r\n"
ESTABLISHED = b"HTTP/1.1 200 Connection established\r\n\r\n<html>hello</html>"


# --- where the proxy comes from ---


def test_windows_settings_read_as_windows_applies_them() -> None:
    rules = proxies.from_windows(
        winproxy.ProxySetting("http=web:8080;https=secure:8443;ftp=f:21", "<local>;*.corp.example")
    )

    def proxy_of(url: str) -> str | None:
        chosen = rules.proxy_for(Url.parse(url))
        return chosen.endpoint if chosen else None

    assert proxy_of("https://login.microsoftonline.com/") == "secure:8443"
    assert proxy_of("http://crl.microsoft.com/x.crl") == "web:8080"
    assert proxy_of("https://intranet/") is None  # <local>: no dot
    assert proxy_of("https://app.corp.example/") is None
    single = proxies.from_windows(winproxy.ProxySetting("proxy.corp.example:3128"))
    assert single.proxy_for(Url.parse("https://a.example/")) == Proxy("proxy.corp.example", 3128)


def test_the_environment_is_read_once_with_no_proxy() -> None:
    rules = proxies.from_environment(
        {"HTTPS_PROXY": "http://u:p%40ss@proxy:3128", "NO_PROXY": ".corp.example,10.0.0.1"}
    )
    chosen = rules.proxy_for(Url.parse("https://login.microsoft.com/"))
    assert chosen == Proxy("proxy", 3128, "u", "p@ss")
    assert rules.proxy_for(Url.parse("https://a.corp.example/")) is None
    assert rules.proxy_for(Url.parse("http://crl.microsoft.com/")) is None  # no HTTP_PROXY


def test_each_source_is_named_and_the_default_ignores_nothing_silently() -> None:
    env = {"HTTPS_PROXY": "http://alice:secret@proxy:3128"}
    chosen = proxies.source(None, env)  # Linux: the environment, said so
    assert chosen.describe() == (
        "https: http://alice:***@proxy:3128, from the environment (HTTPS_PROXY, HTTP_PROXY, "
        "NO_PROXY)"
    )
    assert proxies.source("none", env).describe() == "direct (--proxy=none)"
    with pytest.raises(proxies.ProxyError, match="Windows only"):
        proxies.source("winhttp", env)
    with pytest.raises(proxies.ProxyError, match="HTTPS_PROXY"):
        proxies.source("env", {"HTTPS_PROXY": "http://proxy:0"})


# --- the schemes a proxy offers ---


def test_challenges_are_read_from_one_header_or_several() -> None:
    assert offered(['Negotiate, NTLM, Basic realm="corp, inc", charset="UTF-8"']) == {
        "negotiate": "",
        "ntlm": "",
        "basic": 'realm="corp, inc", charset="UTF-8"',
    }
    assert offered(["NTLM TlRMTVNTUAACAAAA", 'Digest realm="x", nonce="y"']) == {
        "ntlm": "TlRMTVNTUAACAAAA",
        "digest": 'realm="x", nonce="y"',
    }


def test_the_strongest_scheme_offered_is_chosen_and_named_when_impossible() -> None:
    ntlm = ProxyAuth("proxy", Credentials("CORP\\alice", "secret"))
    assert ntlm.respond({"basic": "", "ntlm": ""}, "CONNECT a:443").startswith("NTLM TlRMTVNT")
    digest = ProxyAuth("proxy", Credentials("alice", "secret"))
    with pytest.raises(Exception, match="offers digest; netcheck speaks Negotiate, NTLM") as exc:
        digest.respond({"digest": ""}, "CONNECT a:443")
    assert exc.value.cause == "proxy_auth_unsupported"  # type: ignore[attr-defined]
    anonymous = ProxyAuth("proxy", Credentials())
    with pytest.raises(Exception, match="it offers NTLM: give credentials") as exc:
        anonymous.respond({"ntlm": ""}, "CONNECT a:443")
    assert exc.value.cause == "proxy_auth_required"  # type: ignore[attr-defined]


# --- against the lab's proxies ---


@pytest.fixture(scope="module")
def trust(lab: Lab) -> Trust:
    return Trust((lab.ca_pem,))


def network(lab: Lab, trust: Trust, proxy: str | None = None, pac: Pac | None = None) -> Network:
    rules = proxies.Rules({"*": Proxy.parse(proxy)}) if proxy else proxies.Rules()
    resolver = Resolver((Nameserver.parse(lab.nameserver),))
    return Network(resolver, proxies.ProxySource("test", rules), trust, pac)


def check(lab: Lab, url: str) -> Check:
    return Check("firewall", Endpoint(url, url, tls=TlsPolicy((spki_pin(lab.ca.certificate),))))


def probe(lab: Lab, trust: Trust, url: str, proxy: str | None = None) -> Result:
    net = network(lab, trust, proxy)
    try:
        return asyncio.run(run(check(lab, url), net, TIMEOUT))
    finally:
        net.close()


def verdict(result: Result) -> tuple[str, str | None, str | None]:
    return result.outcome.value, result.layer and result.layer.value, result.cause


@pytest.fixture(scope="module")
def misbehaving() -> Iterator[dict[str, str]]:
    """Proxies that answer plain-HTTP requests themselves: a gateway error without marks, a
    CONNECT reply to a GET, bytes that are not HTTP, nothing at all."""
    kinds = {"gateway": ("answer", GATEWAY), "established": ("answer", ESTABLISHED)}
    kinds |= {"garbage": ("garbage", b"\x16\x03\x01 not http\r\n\r\n"), "silent": ("silent", b"")}
    servers = [RawServer(ADDRESS, 0, mode, payload=payload) for mode, payload in kinds.values()]
    for server in servers:
        server.start()
    yield {k: f"http://{ADDRESS}:{s.port}" for k, s in zip(kinds, servers, strict=True)}
    for server in servers:
        server.stop()


@pytest.mark.parametrize(
    ("kind", "cause"),
    [
        ("gateway", "proxy_error"),
        ("established", "proxy_error"),
        ("garbage", "http_protocol_error"),
        ("silent", "timeout"),
    ],
)
def test_what_the_proxy_made_itself_is_a_proxy_failure(
    lab, trust, misbehaving, kind, cause
) -> None:
    result = probe(lab, trust, "http://ok.netcheck.test/", misbehaving[kind])
    assert verdict(result) == ("fail", "proxy", cause), result.explain()


@pytest.mark.parametrize("path", ["/forbidden", "/503"])
def test_the_origins_own_error_through_the_proxy_is_an_open_path(lab, trust, path) -> None:
    """An error the proxy relays without its own marks is the origin's: the path is open."""
    result = probe(lab, trust, f"http://ok.netcheck.test{path}", f"http://{PROXY[0]}:{PROXY[1]}")
    assert verdict(result) == ("pass", None, None), result.explain()


@pytest.fixture
def ntlm_users(tmp_path, monkeypatch) -> None:
    """The NTLM proxy's user (pyspnego's acceptor reads NTLM_USER_FILE)."""
    (tmp_path / "users").write_text("CORP:alice:Pa55/w@rd\n")
    monkeypatch.setenv("NTLM_USER_FILE", str(tmp_path / "users"))


def ntlm(lab: Lab, trust: Trust, password: str, **kind: object) -> tuple[Result, list[str]]:
    with NTLMProxy("127.0.5.2", (ORIGIN, 443), **kind) as proxy:  # type: ignore[arg-type]
        url = f"http://CORP%5Calice:{password}@127.0.5.2:{proxy.port}"
        return probe(lab, trust, "https://ok.netcheck.test/", url), proxy.legs


@pytest.mark.parametrize(("page", "http10"), [(0, False), (100_000, False), (6_000, True)])
def test_ntlm_runs_its_legs_on_one_connection(lab, trust, ntlm_users, page, http10) -> None:
    """Three legs on one kept-alive connection, whatever the size of the proxy's 407 pages
    (branded ones exceed 4 KiB) and through an HTTP/1.0 proxy that keeps the connection."""
    result, legs = ntlm(lab, trust, "Pa55%2Fw%40rd", page=page, http10=http10)
    assert verdict(result) == ("pass", None, None), result.explain()
    assert result.evidence["proxy_auth"] == "ntlm"
    assert legs == ["none", "negotiate", "auth"]


def test_ntlm_with_a_wrong_password_is_refused_credentials(lab, trust, ntlm_users) -> None:
    result, _ = ntlm(lab, trust, "wrong")
    assert verdict(result) == ("fail", "proxy", "proxy_auth_failed"), result.explain()
    assert "rejected the NTLM credentials" in result.detail and "wrong" not in result.explain()


@pytest.mark.parametrize(
    ("proxy", "cause"),
    [
        ("http://nosuchproxy.netcheck.test:3128", "dns_nxdomain"),
        ("http://127.0.5.9:3128", "connection_refused"),
    ],
)
def test_an_unreachable_proxy_is_the_proxys_failure(lab, trust, proxy, cause) -> None:
    result = probe(lab, trust, "https://ok.netcheck.test/", proxy)
    assert verdict(result) == ("fail", "proxy", cause), result.explain()
    assert "the proxy" in result.detail and "proxy setting" in result.advice


def test_basic_credentials_are_sent_when_asked_and_never_shown(lab, trust) -> None:
    user, password = "alice", "s3cret-Pa55"
    without = probe(
        lab, trust, "https://ok.netcheck.test/", f"http://{AUTH_PROXY[0]}:{AUTH_PROXY[1]}"
    )
    assert verdict(without) == ("fail", "proxy", "proxy_auth_required"), without.explain()
    assert "it offers Basic" in without.detail
    url = f"http://{user}:{password}@{AUTH_PROXY[0]}:{AUTH_PROXY[1]}"
    good = probe(lab, trust, "https://ok.netcheck.test/", url)
    assert verdict(good) == ("pass", None, None) and good.evidence["proxy_auth"] == "basic"
    bad = probe(lab, trust, "https://ok.netcheck.test/", url.replace(password, "wrong"))
    assert verdict(bad) == ("fail", "proxy", "proxy_auth_failed"), bad.explain()
    for result in (without, good, bad):
        assert password not in result.explain() and "wrong" not in result.explain()


# --- PAC files within the deadline ---

SLOW_PAC = """function FindProxyForURL(url, host) {
  if (host == "slowpac.netcheck.test") { dnsResolve("dnstimeout.netcheck.test"); }
  return "DIRECT";
}"""


def test_a_pac_file_waiting_on_dns_is_cut_at_the_deadline(lab, trust) -> None:
    """dnsResolve() in the PAC meets a silent DNS server: a verdict within the deadline; the
    worker that overran is replaced for the next check."""
    pac = Pac("http://user:pacsecret@pac.example/proxy.pac", SLOW_PAC)
    net = network(lab, trust, pac=pac)

    async def both() -> tuple[Result, Result]:
        slow = await run(check(lab, "https://slowpac.netcheck.test/"), net, TIMEOUT)
        return slow, await run(check(lab, "https://ok.netcheck.test/"), net, TIMEOUT)

    try:
        slow, fast = asyncio.run(both())
    finally:
        net.close()
    assert verdict(slow) == ("fail", "proxy", "pac_error"), slow.explain()
    extended = float(slow.evidence.get("deadline_extended", "0 s").split()[0])
    assert slow.elapsed < TIMEOUT + extended + 0.5
    assert "pacsecret" not in slow.explain()
    assert verdict(fast) == ("pass", None, None), fast.explain()


@pytest.mark.parametrize(
    "script",
    [
        "function FindProxyForURL(url, host) { while (true) {} }",
        "while (true) {}\nfunction FindProxyForURL(url, host) { return 'DIRECT'; }",
    ],
)
def test_a_pac_file_that_never_answers_is_a_usage_error(script: str) -> None:
    """Checked before the run: an endless loop is killed after the probe timeout (pypac
    calls FindProxyForURL once as it loads the file)."""
    pac = Pac("loop.pac", script)
    with pytest.raises(PacError, match=r"PAC loop\.pac: did not load within 1 s"):
        pac.validate(1.0)
    assert not pac._idle  # killed, not kept spinning


def test_pac_answers_as_windows_reads_them() -> None:
    """A PROXY without a port is port 80; credentials in an answer are never shown."""
    assert parse_choice("PROXY proxy.corp.example; DIRECT") == "http://proxy.corp.example:80"
    assert parse_choice("SOCKS s:1080; PROXY [2001:db8::1]:3128") == "http://[2001:db8::1]:3128"
    assert parse_choice("direct") is None
    assert shown("PROXY alice:S3cret!@proxy:3128; DIRECT") == "PROXY ***@proxy:3128; DIRECT"


def test_a_slow_pac_answer_holds_one_worker_not_all(lab, trust) -> None:
    """One URL whose evaluation waits on a silent DNS server; the others are answered by
    the other workers meanwhile (Windows evaluates PAC files per request, too)."""
    pac = Pac("slow.pac", SLOW_PAC)
    net = network(lab, trust, pac=pac)
    urls = ["https://slowpac.netcheck.test/", *(f"https://ok.netcheck.test/{i}" for i in range(8))]

    async def all_at_once() -> list[Result]:
        return await asyncio.gather(*(run(check(lab, u), net, TIMEOUT) for u in urls))

    try:
        slow, *others = asyncio.run(all_at_once())
    finally:
        net.close()
    assert verdict(slow) == ("fail", "proxy", "pac_error"), slow.explain()
    assert [verdict(r) for r in others] == [("pass", None, None)] * len(others)
