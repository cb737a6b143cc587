"""The real suite against the loopback lab: every check passes or fails exactly as the
network dictates, with the layer and cause the report shows.

Each table row is (test name, outcome, layer, cause). One suite run serves a whole table.
"""

from __future__ import annotations

import base64
import re
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.loopback_lab import (
    AUTH_PROXY,
    CLOSING_PROXY,
    DEAD_NAMESERVER,
    DEAD_PROXY,
    INSPECTION_ORG,
    MIDDLEBOX_ENDPOINTS,
    NO_CONNECT_PROXY,
    PROXIED,
    PROXY,
    PROXY_USER,
    TIMEOUT,
    Lab,
    SuiteRun,
    gzip_bomb,
    proxy_url,
)

HTTPS_FAULTS = f"""
[profile]
name = "lab faults"

[[endpoint]]
url = "https://ok.netcheck.test/"
[[endpoint]]
url = "https://nxdomain.netcheck.test/"
[[endpoint]]
url = "https://servfail.netcheck.test/"
[[endpoint]]
url = "https://dnstimeout.netcheck.test/"
[[endpoint]]
url = "https://nodata.netcheck.test/"
[[endpoint]]
url = "https://refused.netcheck.test/"
[[endpoint]]
url = "https://dropped.netcheck.test/"
[[endpoint]]
url = "https://reset.netcheck.test/"
[[endpoint]]
url = "https://expired.netcheck.test/"
[[endpoint]]
url = "https://wronghost.netcheck.test/"
[[endpoint]]
url = "https://untrusted.netcheck.test/"
[[endpoint]]
url = "https://tls13only.netcheck.test/"
[[endpoint]]
url = "https://nottls.netcheck.test/"
{MIDDLEBOX_ENDPOINTS}[[endpoint]]
url = "https://ipv6.netcheck.test/"
checks = ["firewall"]
[[endpoint]]
url = "https://noroute6.netcheck.test/"
checks = ["firewall"]
[[endpoint]]
url = "https://dnsrefused.netcheck.test/"
checks = ["firewall"]
[[endpoint]]
url = "https://truncated.netcheck.test/"
checks = ["firewall"]
[[endpoint]]
url = "https://cnameloop.netcheck.test/"
checks = ["firewall"]
[[endpoint]]
url = "https://rstconnect.netcheck.test/"
checks = ["firewall"]
[[endpoint]]
url = "http://rstconnect.netcheck.test/plain"
[[endpoint]]
url = "https://closed.netcheck.test/"
checks = ["firewall"]
[[endpoint]]
url = "http://closed.netcheck.test/plain"
[[endpoint]]
url = "https://tls10only.netcheck.test/"
[[endpoint]]
url = "https://stall.netcheck.test/"
[[endpoint]]
url = "http://ok.netcheck.test/503"
[[endpoint]]
url = "http://ok.netcheck.test/crl.crl"
checks = ["crl"]
[[endpoint]]
url = "http://ok.netcheck.test/endless.crl"
checks = ["crl"]
[[endpoint]]
url = "http://ok.netcheck.test/huge.crl"
checks = ["crl"]
[[endpoint]]
url = "http://ok.netcheck.test/loop.crl"
checks = ["crl"]
[[endpoint]]
url = "http://ok.netcheck.test/500.crl"
checks = ["crl"]
[[endpoint]]
url = "http://ok.netcheck.test/bomb.crl"
checks = ["crl"]
[[endpoint]]
url = "http://ok.netcheck.test/stale.crl"
checks = ["crl"]
[[endpoint]]
url = "http://ok.netcheck.test/slow.crl"
checks = ["crl"]
[[endpoint]]
url = "http://ok.netcheck.test/html.crl"
checks = ["crl"]
[[endpoint]]
url = "http://ok.netcheck.test/missing.crl"
checks = ["crl"]

[[ncsi_web]]
url = "http://ok.netcheck.test/connecttest.txt"
expect_body = "Microsoft Connect Test"
[[ncsi_web]]
url = "http://ok.netcheck.test/wrongbody.txt"
expect_body = "Microsoft Connect Test"
[[ncsi_web]]
url = "http://portal.netcheck.test/connecttest.txt"
expect_body = "Microsoft Connect Test"
[[ncsi_web]]
url = "http://drip.netcheck.test/connecttest.txt"
expect_body = "Microsoft Connect Test"
[[ncsi_web]]
url = "http://ok.netcheck.test/loop.txt"
expect_body = "Microsoft Connect Test"
[[ncsi_web]]
url = "http://ok.netcheck.test/503.txt"
expect_body = "Microsoft Connect Test"
[[ncsi_web]]
url = "http://ok.netcheck.test/badstatus.txt"
expect_body = "Microsoft Connect Test"
[[ncsi_web]]
url = "http://ok.netcheck.test/bomb.txt"
expect_body = "Microsoft Connect Test"
[[ncsi_web]]
url = "http://ipv6.netcheck.test/connecttest.txt"
expect_body = "Microsoft Connect Test"
family = "ipv6"
[[ncsi_web]]
url = "http://noroute6.netcheck.test/connecttest.txt"
expect_body = "Microsoft Connect Test"
family = "ipv6"

[[ncsi_dns]]
name = "dns.msftncsi.com"
expect_a = ["131.107.255.255"]
expect_aaaa = ["fd3e:4f5a:5b81::1"]
[[ncsi_dns]]
name = "ncsi-wrong.netcheck.test"
expect_a = ["131.107.255.255"]

[msoid]
worldwide = "clientconfig.microsoftonline-p.net"
vianet = "clientconfig.partner.microsoftonline-p.net.cn"
domains = ["good.test", "vianet.test", "absent.test", "elsewhere.test", "broken.test"]
"""

FAULTS = [
    ("test_firewall[ok.netcheck.test]", "passed", "", ""),
    ("test_firewall[nxdomain.netcheck.test]", "failed", "dns", "dns_nxdomain"),
    ("test_firewall[servfail.netcheck.test]", "failed", "dns", "dns_servfail"),
    ("test_firewall[dnstimeout.netcheck.test]", "failed", "dns", "timeout"),
    ("test_firewall[nodata.netcheck.test]", "failed", "dns", "dns_no_answer"),
    ("test_firewall[refused.netcheck.test]", "failed", "tcp", "connection_refused"),
    ("test_firewall[dropped.netcheck.test]", "failed", "tcp", "timeout"),
    ("test_firewall[reset.netcheck.test]", "failed", "tls", "connection_reset"),
    ("test_firewall[expired.netcheck.test]", "failed", "tls", "tls_expired_certificate"),
    ("test_firewall[wronghost.netcheck.test]", "failed", "tls", "tls_hostname_mismatch"),
    ("test_firewall[untrusted.netcheck.test]", "failed", "tls", "tls_untrusted_certificate"),
    ("test_firewall[tls13only.netcheck.test]", "passed", "", ""),
    ("test_firewall[nottls.netcheck.test]", "failed", "tls", "tls_not_tls"),
    ("test_firewall[dnsrefused.netcheck.test]", "failed", "dns", "dns_refused"),
    ("test_firewall[truncated.netcheck.test]", "passed", "", ""),  # over TCP
    ("test_firewall[cnameloop.netcheck.test]", "failed", "dns", "dns_cname_loop"),
    # A reset right after the handshake can beat connect() to the socket: either layer is true.
    ("test_firewall[rstconnect.netcheck.test]", "failed", "tcp|tls", "connection_reset"),
    ("test_firewall[rstconnect.netcheck.test/plain]", "failed", "tcp|http", "connection_reset"),
    ("test_firewall[closed.netcheck.test]", "failed", "tls", "connection_closed"),
    ("test_firewall[closed.netcheck.test/plain]", "failed", "http", "connection_closed"),
    ("test_firewall[tls10only.netcheck.test]", "failed", "tls", "tls_version_unsupported"),
    ("test_tls12[tls10only.netcheck.test]", "failed", "tls", "tls_version_unsupported"),
    ("test_firewall[stall.netcheck.test]", "failed", "tls", "timeout"),
    ("test_tls12[stall.netcheck.test]", "failed", "tls", "timeout"),
    ("test_firewall[ok.netcheck.test/503]", "passed", "", ""),  # any answer of the origin
    ("test_tls12[ok.netcheck.test]", "passed", "", ""),
    # TLS inspection: a CA trusted here (--ca-bundle) but not expected re-signs the host;
    # a SAN-only wildcard certificate from the expected root is not inspection.
    ("test_firewall[intercepted.netcheck.test]", "failed", "tls", "tls_interception"),
    ("test_tls12[intercepted.netcheck.test]", "failed", "tls", "tls_interception"),
    ("test_firewall[wildcard.netcheck.test]", "passed", "", ""),
    # Each address family on its own.
    ("test_firewall[ok.netcheck.test-ipv6]", "skipped", "", ""),  # no AAAA: IPv4 only
    ("test_firewall[dualstack.netcheck.test]", "passed", "", ""),
    ("test_firewall[dualstack.netcheck.test-ipv6]", "passed", "", ""),
    ("test_firewall[v6broken]", "passed", "", ""),
    ("test_firewall[v6broken-ipv6]", "failed", "tcp", "ipv6_broken"),
    ("test_firewall[ipv6.netcheck.test]", "skipped", "", ""),  # no A: IPv6 only
    ("test_firewall[ipv6.netcheck.test-ipv6]", "passed", "", ""),
    ("test_firewall[noroute6.netcheck.test-ipv6]", "skipped", "", ""),  # no IPv6 route here
    ("test_tls12[tls13only.netcheck.test]", "failed", "tls", "tls_version_unsupported"),
    ("test_tls12[refused.netcheck.test]", "failed", "tcp", "connection_refused"),
    ("test_crl[ok.netcheck.test/crl.crl]", "passed", "", ""),
    ("test_crl[ok.netcheck.test/stale.crl]", "failed", "content", "crl_expired"),
    ("test_crl[ok.netcheck.test/slow.crl]", "passed", "", ""),  # body after the headers
    ("test_crl[ok.netcheck.test/html.crl]", "failed", "content", "crl_invalid"),
    ("test_crl[ok.netcheck.test/missing.crl]", "failed", "http", "http_status"),
    ("test_crl[ok.netcheck.test/endless.crl]", "failed", "content", "response_too_large"),
    ("test_crl[ok.netcheck.test/huge.crl]", "failed", "content", "response_too_large"),
    ("test_crl[ok.netcheck.test/loop.crl]", "failed", "http", "http_status"),
    ("test_crl[ok.netcheck.test/500.crl]", "failed", "http", "http_status"),
    ("test_crl[ok.netcheck.test/bomb.crl]", "failed", "content", "crl_invalid"),
    ("test_ncsi_web[ok.netcheck.test/loop.txt]", "failed", "http", "http_redirect"),
    ("test_ncsi_web[ok.netcheck.test/503.txt]", "failed", "http", "http_status"),
    ("test_ncsi_web[ok.netcheck.test/badstatus.txt]", "failed", "http", "http_protocol_error"),
    ("test_ncsi_web[ok.netcheck.test/bomb.txt]", "failed", "content", "wrong_content"),
    ("test_ncsi_web[ok.netcheck.test/connecttest.txt]", "passed", "", ""),
    ("test_ncsi_web[ok.netcheck.test/wrongbody.txt]", "failed", "content", "wrong_content"),
    ("test_ncsi_web[portal.netcheck.test/connecttest.txt]", "failed", "http", "http_redirect"),
    ("test_ncsi_web[drip.netcheck.test/connecttest.txt]", "failed", "http", "timeout"),
    ("test_ncsi_web[ipv6.netcheck.test/connecttest.txt]", "passed", "", ""),
    ("test_ncsi_web[noroute6.netcheck.test/connecttest.txt]", "skipped", "", ""),
    ("test_ncsi_dns[dns.msftncsi.com]", "passed", "", ""),
    ("test_ncsi_dns[ncsi-wrong.netcheck.test]", "failed", "dns", "dns_wrong_answer"),
    ("test_msoid[good.test]", "passed", "", ""),
    ("test_msoid[absent.test]", "passed", "", ""),
    ("test_msoid[vianet.test]", "failed", "dns", "msoid_21vianet"),
    ("test_msoid[elsewhere.test]", "failed", "dns", "msoid_unexpected"),
    ("test_msoid[broken.test]", "failed", "dns", "dns_servfail"),
]


# A check must end within its deadline; this margin only absorbs a loaded CI machine. A hung
# check would show the runner's own guard (deadline + 10 s) or never end.
DEADLINE_SLACK = 2.5


@pytest.fixture(scope="module")
def faults(lab: Lab) -> SuiteRun:
    return lab.run(HTTPS_FAULTS, "--family=both", "-W", "always::ResourceWarning")


@pytest.mark.parametrize(("name", "outcome", "layer", "cause"), FAULTS, ids=[f[0] for f in FAULTS])
def test_fault_verdict(faults: SuiteRun, name: str, outcome: str, layer: str, cause: str) -> None:
    got_outcome, got_layer, got_cause = faults.verdict(name)
    assert (got_outcome, got_cause) == (outcome, cause), faults.cases[name].message
    assert got_layer in layer.split("|"), faults.cases[name].message


def test_fault_run_covers_every_test_and_fails(faults: SuiteRun) -> None:
    assert {f[0] for f in FAULTS} <= set(faults.cases)
    assert faults.exit_code == 1


def test_failures_explain_cause_and_fix(faults: SuiteRun) -> None:
    message = faults.cases["test_firewall[refused.netcheck.test]"].message
    assert "connection_refused" in message and "What to do:" in message
    portal = faults.cases["test_ncsi_web[portal.netcheck.test/connecttest.txt]"].message
    assert "http://portal.netcheck.test/login?next=connecttest" in portal
    assert "captive portal" in portal
    assert "nextUpdate" in faults.cases["test_crl[ok.netcheck.test/stale.crl]"].message


def test_each_family_says_which_address_it_used(faults: SuiteRun) -> None:
    v4 = faults.cases["test_firewall[dualstack.netcheck.test]"].props["address"]
    v6 = faults.cases["test_firewall[dualstack.netcheck.test-ipv6]"].props["address"]
    assert (v4, v6) == ("198.18.1.1 port 443", "2001:db8:ffff::1 port 443")
    message = faults.cases["test_firewall[v6broken-ipv6]"].message
    assert "AAAA published (2001:db8:ffff::1)" in message and "disable IPv6" in message


def test_interception_names_the_inspecting_ca_and_the_fix(faults: SuiteRun) -> None:
    message = faults.cases["test_firewall[intercepted.netcheck.test]"].message
    assert "TLS inspection by" in message and f"O={INSPECTION_ORG}" in message  # no CN: full name
    assert "exempt these endpoints from TLS inspection" in message


def test_dripping_server_is_cut_at_the_deadline(faults: SuiteRun) -> None:
    name = "test_ncsi_web[drip.netcheck.test/connecttest.txt]"
    deadline = faults.deadline(name, TIMEOUT)
    assert deadline - 0.1 <= float(faults.cases[name].props["probe_time"]) < deadline + 1


def test_silent_resolver_is_cut_at_the_deadline(faults: SuiteRun) -> None:
    # dnspython's retry back-off (0.1 s, 0.2 s, ...) must not run past the deadline.
    name = "test_firewall[dnstimeout.netcheck.test]"
    deadline = faults.deadline(name, TIMEOUT)
    assert deadline - 0.1 <= float(faults.cases[name].props["probe_time"]) < deadline + 0.15


def test_every_check_ends_within_its_deadline_and_leaves_nothing_behind(faults: SuiteRun) -> None:
    late = {
        name: case.props["probe_time"]
        for name, case in faults.cases.items()
        if float(case.props["probe_time"]) > faults.deadline(name, TIMEOUT) + DEADLINE_SLACK
    }
    assert not late, late
    assert "INTERNALERROR" not in faults.output
    assert all(case.outcome != "error" for case in faults.cases.values())
    assert "ResourceWarning" not in faults.output  # every socket closed, even on failure
    # Stalled servers (silent DNS, dropped SYNs, a stalled handshake, a drip) hold no thread
    # past its deadline: the whole session costs about one timeout plus pytest's start-up.
    assert faults.elapsed < TIMEOUT + 15, faults.elapsed


def test_truncated_dns_answer_is_retried_over_tcp(lab: Lab, faults: SuiteRun) -> None:
    asked = {(q.rdtype, q.transport) for q in lab.dns.log if q.name == "truncated.netcheck.test"}
    assert {("A", "udp"), ("A", "tcp")} <= asked


def test_trusted_interception_ca_is_visible_in_the_evidence(faults: SuiteRun) -> None:
    evidence = faults.evidence("test_firewall[intercepted.netcheck.test]")
    assert re.search(rf"<th>certificate_issuer</th><td>[^<]*O={INSPECTION_ORG}</td>", evidence)


def test_gzip_bomb_is_never_inflated(faults: SuiteRun) -> None:
    on_the_wire = len(gzip_bomb().body)  # 1 MiB that would inflate to 1 GiB
    crl = faults.cases["test_crl[ok.netcheck.test/bomb.crl]"].message
    assert f"not a CRL ({on_the_wire} bytes starting b" in crl and "\\x1f\\x8b\\x08" in crl
    ncsi = faults.cases["test_ncsi_web[ok.netcheck.test/bomb.txt]"].message
    assert "got b" in ncsi and "\\x1f\\x8b\\x08" in ncsi


def test_redirect_loop_is_not_followed(lab: Lab, faults: SuiteRun) -> None:
    for path in ("/loop.txt", "/loop.crl"):
        assert [r.path for r in lab.origin_http.requests].count(path) == 1
    loop = faults.cases["test_ncsi_web[ok.netcheck.test/loop.txt]"].message
    assert "to http://ok.netcheck.test/loop.txt" in loop


def test_only_tls_1_0_server_is_named(faults: SuiteRun) -> None:
    message = faults.cases["test_tls12[tls10only.netcheck.test]"].message
    assert "the server only speaks TLSv1.1" in message


USER, PASSWORD = PROXY_USER
WITH_CREDENTIALS = proxy_url(AUTH_PROXY, f"{USER}:{PASSWORD}@")


def _proxy(address: tuple[str, int]) -> str:
    return f"--proxy={proxy_url(address)}"


# Runs that need settings of their own: name -> (profile, pytest arguments, Lab.run keywords).
# They run concurrently, so together they cost about one run.
SETUPS: dict[str, tuple[str, tuple[str, ...], dict]] = {
    "proxy": (PROXIED, (_proxy(PROXY),), {}),
    "dead proxy": (PROXIED, (_proxy(DEAD_PROXY),), {}),
    "proxy refusing CONNECT": (PROXIED, (_proxy(NO_CONNECT_PROXY),), {}),
    "proxy closing the tunnel": (PROXIED, (_proxy(CLOSING_PROXY),), {}),
    "proxy auth, none given": (PROXIED, (_proxy(AUTH_PROXY),), {}),
    "proxy auth, --proxy": (PROXIED, (f"--proxy={WITH_CREDENTIALS}", "-rA", "-v"), {}),
    "proxy auth, environment": (
        PROXIED,
        ("-rA", "-v"),
        {"env": {"HTTPS_PROXY": WITH_CREDENTIALS, "http_proxy": WITH_CREDENTIALS}},
    ),
    "dead nameserver": (PROXIED, (), {"nameserver": DEAD_NAMESERVER}),
    "21vianet tenant": (HTTPS_FAULTS, ("--tenant=21vianet", "-k", "msoid"), {}),
}
SETUP_VERDICTS = [
    ("proxy", "test_firewall[ok.netcheck.test]", "passed", "", ""),
    ("proxy", "test_firewall[ok.netcheck.test/plain]", "passed", "", ""),
    ("proxy", "test_firewall[denied.netcheck.test]", "failed", "proxy", "proxy_denied"),
    ("proxy", "test_firewall[denied.netcheck.test/plain]", "failed", "proxy", "proxy_denied"),
    ("proxy", "test_crl[denied.netcheck.test/x.crl]", "failed", "proxy", "proxy_denied"),
    # A block page is told from the origin's own 403, which passes: the path is open.
    ("proxy", "test_firewall[ok.netcheck.test/forbidden]", "passed", "", ""),
    # With a proxy the client does not resolve names: the proxy does.
    ("proxy", "test_firewall[proxyonly.netcheck.test]", "passed", "", ""),
    ("proxy", "test_tls12[proxyonly.netcheck.test]", "passed", "", ""),
    ("dead proxy", "test_firewall[ok.netcheck.test]", "failed", "proxy", "connection_refused"),
    (
        "dead proxy",
        "test_firewall[ok.netcheck.test/plain]",
        "failed",
        "proxy",
        "connection_refused",
    ),
    (
        "proxy refusing CONNECT",
        "test_firewall[ok.netcheck.test]",
        "failed",
        "proxy",
        "proxy_denied",
    ),
    ("proxy refusing CONNECT", "test_tls12[ok.netcheck.test]", "failed", "proxy", "proxy_denied"),
    (
        "proxy closing the tunnel",
        "test_firewall[ok.netcheck.test]",
        "failed",
        "tls",
        "connection_closed",
    ),
    (
        "proxy closing the tunnel",
        "test_tls12[ok.netcheck.test]",
        "failed",
        "tls",
        "connection_closed",
    ),
    (
        "proxy auth, none given",
        "test_firewall[ok.netcheck.test]",
        "failed",
        "proxy",
        "proxy_auth_required",
    ),
    (
        "proxy auth, none given",
        "test_firewall[ok.netcheck.test/plain]",
        "failed",
        "proxy",
        "proxy_auth_required",
    ),
    (
        "proxy auth, none given",
        "test_firewall[ok.netcheck.test/forbidden]",
        "failed",
        "proxy",
        "proxy_auth_required",
    ),
    ("proxy auth, --proxy", "test_firewall[ok.netcheck.test]", "passed", "", ""),
    ("proxy auth, --proxy", "test_firewall[ok.netcheck.test/plain]", "passed", "", ""),
    ("proxy auth, environment", "test_firewall[ok.netcheck.test]", "passed", "", ""),
    ("proxy auth, environment", "test_firewall[ok.netcheck.test/plain]", "passed", "", ""),
    # Over UDP a closed port and a silent server look the same: no answer.
    ("dead nameserver", "test_firewall[ok.netcheck.test]", "failed", "dns", "timeout"),
    ("21vianet tenant", "test_msoid[vianet.test]", "passed", "", ""),
    ("21vianet tenant", "test_msoid[good.test]", "failed", "dns", "msoid_unexpected"),
    ("21vianet tenant", "test_msoid[absent.test]", "failed", "dns", "msoid_missing"),
]


@pytest.fixture(scope="module")
def setups(lab: Lab) -> dict[str, SuiteRun]:
    def run(name: str) -> SuiteRun:
        profile, args, kwargs = SETUPS[name]
        log = lab.workdir / f"{name.replace(' ', '-')}.log"
        return lab.run(profile, *args, f"--log-file={log}", "--log-file-level=DEBUG", **kwargs)

    with ThreadPoolExecutor(len(SETUPS)) as pool:
        return dict(zip(SETUPS, pool.map(run, SETUPS), strict=True))


@pytest.mark.parametrize(
    ("setup", "name", "outcome", "layer", "cause"),
    SETUP_VERDICTS,
    ids=[f"{v[0]}: {v[1]}" for v in SETUP_VERDICTS],
)
def test_setup_verdict(
    setups: dict[str, SuiteRun], setup: str, name: str, outcome: str, layer: str, cause: str
) -> None:
    run = setups[setup]
    assert run.verdict(name) == (outcome, layer, cause), run.cases[name].message
    assert float(run.cases[name].props["probe_time"]) <= TIMEOUT + DEADLINE_SLACK


def test_block_page_shows_the_proxys_marks(setups: dict[str, SuiteRun]) -> None:
    block = setups["proxy"].cases["test_firewall[denied.netcheck.test/plain]"].message
    assert "X-Squid-Error: ERR_ACCESS_DENIED" in block and "Via: 1.1 fakeproxy" in block
    auth = setups["proxy auth, none given"].cases["test_firewall[ok.netcheck.test]"].message
    assert "407" in auth and "credentials" in auth


def test_report_names_the_proxy_without_its_password(setups: dict[str, SuiteRun]) -> None:
    props = setups["proxy"].cases["test_firewall[ok.netcheck.test]"].props
    assert props["proxy"] == proxy_url(PROXY)
    for setup in ("proxy auth, --proxy", "proxy auth, environment"):
        props = setups[setup].cases["test_firewall[ok.netcheck.test]"].props
        assert props["proxy"] == proxy_url(AUTH_PROXY, f"{USER}:***@")


@pytest.mark.parametrize("setup", ["proxy auth, --proxy", "proxy auth, environment"])
def test_proxy_password_appears_in_no_output(lab: Lab, setups: dict[str, SuiteRun], setup: str):
    run = setups[setup]
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()  # Proxy-Authorization
    log = (lab.workdir / f"{setup.replace(' ', '-')}.log").read_text()
    channels = {"terminal": run.output, "junit": run.junit, "html": run.html, "log": log}
    for channel, text in channels.items():  # the log is empty unless a library logs
        assert PASSWORD not in text and token not in text, channel
