"""The real suite against the loopback lab: every check passes or fails exactly as the
network dictates, with the layer and cause the report shows.

Each table row is (test name, outcome, layer, cause). One suite run serves a whole table.
"""

from __future__ import annotations

import pytest

from tests.loopback_lab import AUTH_PROXY, PROXY, PROXY_USER, TIMEOUT, Lab, SuiteRun

HTTPS_FAULTS = """
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
[[endpoint]]
url = "http://ok.netcheck.test/crl.crl"
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
    ("test_tls12[ok.netcheck.test]", "passed", "", ""),
    ("test_tls12[tls13only.netcheck.test]", "failed", "tls", "tls_version_unsupported"),
    ("test_tls12[refused.netcheck.test]", "failed", "tcp", "connection_refused"),
    ("test_crl[ok.netcheck.test/crl.crl]", "passed", "", ""),
    ("test_crl[ok.netcheck.test/stale.crl]", "failed", "content", "crl_expired"),
    ("test_crl[ok.netcheck.test/slow.crl]", "passed", "", ""),  # body after the headers
    ("test_crl[ok.netcheck.test/html.crl]", "failed", "content", "crl_invalid"),
    ("test_crl[ok.netcheck.test/missing.crl]", "failed", "http", "http_status"),
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


@pytest.fixture(scope="module")
def faults(lab: Lab) -> SuiteRun:
    return lab.run(HTTPS_FAULTS)


@pytest.mark.parametrize(("name", "outcome", "layer", "cause"), FAULTS, ids=[f[0] for f in FAULTS])
def test_fault_verdict(faults: SuiteRun, name: str, outcome: str, layer: str, cause: str) -> None:
    assert faults.verdict(name) == (outcome, layer, cause), faults.cases[name].message


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


def test_dripping_server_is_cut_at_the_deadline(faults: SuiteRun) -> None:
    drip = faults.cases["test_ncsi_web[drip.netcheck.test/connecttest.txt]"]
    assert TIMEOUT - 0.1 <= float(drip.props["probe_time"]) < TIMEOUT + 1


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
"""


def test_explicit_proxy_verdicts(lab: Lab) -> None:
    run = lab.run(PROXIED, f"--proxy=http://{PROXY[0]}:{PROXY[1]}")
    assert run.verdict("test_firewall[ok.netcheck.test]") == ("passed", "", "")
    assert run.verdict("test_firewall[ok.netcheck.test/plain]") == ("passed", "", "")
    assert run.verdict("test_firewall[denied.netcheck.test]") == ("failed", "proxy", "proxy_denied")
    assert run.verdict("test_firewall[denied.netcheck.test/plain]") == (
        "failed",
        "proxy",
        "proxy_denied",
    )
    assert run.verdict("test_crl[denied.netcheck.test/x.crl]") == (
        "failed",
        "proxy",
        "proxy_denied",
    )
    # With a proxy the client does not resolve names: the proxy does.
    assert run.verdict("test_firewall[proxyonly.netcheck.test]") == ("passed", "", "")
    assert run.verdict("test_tls12[proxyonly.netcheck.test]") == ("passed", "", "")
    assert run.cases["test_firewall[ok.netcheck.test]"].props["proxy"] == (
        f"http://{PROXY[0]}:{PROXY[1]}"
    )


def test_authenticating_proxy_without_and_with_credentials(lab: Lab) -> None:
    bare = lab.run(PROXIED, f"--proxy=http://{AUTH_PROXY[0]}:{AUTH_PROXY[1]}", "-k", "ok")
    assert bare.verdict("test_firewall[ok.netcheck.test]") == (
        "failed",
        "proxy",
        "proxy_auth_required",
    )
    user, password = PROXY_USER
    authed = lab.run(
        PROXIED, f"--proxy=http://{user}:{password}@{AUTH_PROXY[0]}:{AUTH_PROXY[1]}", "-k", "ok"
    )
    assert authed.verdict("test_firewall[ok.netcheck.test]") == ("passed", "", "")
    assert authed.verdict("test_firewall[ok.netcheck.test/plain]") == ("passed", "", "")
    for text in (authed.output, authed.junit, authed.html):
        assert password not in text
    assert f"{user}:***@" in authed.cases["test_firewall[ok.netcheck.test]"].props["proxy"]


def test_tenant_option_flips_the_msoid_rule(lab: Lab) -> None:
    run = lab.run(HTTPS_FAULTS, "--tenant=21vianet", "-k", "msoid")
    assert run.verdict("test_msoid[vianet.test]") == ("passed", "", "")
    assert run.verdict("test_msoid[good.test]") == ("failed", "dns", "msoid_unexpected")
    assert run.verdict("test_msoid[absent.test]") == ("failed", "dns", "msoid_missing")
