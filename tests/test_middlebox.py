"""Middleboxes against the loopback lab, beyond the verdict table of test_lab_verdicts:
options (--family, --tls-interception, --pac), an inspecting proxy, expected roots from the
profile, a PAC file.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.loopback_lab import (
    MIDDLEBOX_ENDPOINTS,
    MITM_PROXY,
    PAC,
    PROXIED,
    PROXY,
    Lab,
    SuiteRun,
    proxy_url,
)

PROXY_URL, MITM_URL = proxy_url(PROXY), proxy_url(MITM_PROXY)
MIDDLEBOX = f"""
[profile]
name = "lab middleboxes"

[[endpoint]]
url = "https://ok.netcheck.test/"
{MIDDLEBOX_ENDPOINTS}"""


PAC_URL = "http://ok.netcheck.test/proxy.pac"
# The runs of this module: name -> (profile, pytest arguments, Lab.run keywords). They run
# concurrently, so together they cost about one run. Once the lab is up, {root} becomes the
# lab CA's subject and {workdir} the lab's directory, which holds proxy.pac and bad.pac.
RUNS: dict[str, tuple[str | None, tuple[str, ...], dict]] = {
    "ipv4": (MIDDLEBOX, ("--family=ipv4", "-k", "dualstack or v6broken"), {}),
    "ipv6": (MIDDLEBOX, ("--family=ipv6", "-k", "v6broken"), {}),
    "warn": (MIDDLEBOX, ("--tls-interception=warn", "-k", "intercepted"), {}),
    "mitm": (MIDDLEBOX, (f"--proxy={MITM_URL}", "--family=both", "-k", "ok"), {}),
    "no roots": (MIDDLEBOX, ("-k", "intercepted"), {"expected_root": None}),
    "shipped": (None, ("--family=ipv4", "-k", "officecdn"), {"expected_root": None}),
    "profile root": (
        MIDDLEBOX.replace("[[endpoint]]", "[tls]\nexpected_roots = [{root}]\n[[endpoint]]", 1),
        ("-k", "intercepted or wildcard", "--family=ipv4"),
        {"expected_root": None},
    ),
    "pac file": (PROXIED, ("--pac={workdir}/proxy.pac",), {}),
    "pac url": (PROXIED, (f"--pac={PAC_URL}",), {}),
    "bad pac": (PROXIED, ("--pac={workdir}/bad.pac",), {}),
    "pac url with a password": (
        PROXIED,
        ("--pac=http://alice:pac-secret@ok.netcheck.test/proxy.pac",),
        {},
    ),
}


@pytest.fixture(scope="module")
def runs(lab: Lab) -> dict[str, SuiteRun]:
    (lab.workdir / "proxy.pac").write_text(PAC)
    (lab.workdir / "bad.pac").write_text("function FindProxyForURL(url, host) { return ")
    values = {"root": repr(lab.ca.certificate.subject.rfc4514_string()), "workdir": lab.workdir}

    def run(name: str) -> SuiteRun:
        profile, args, kwargs = RUNS[name]
        profile = profile and profile.format(**values)
        return lab.run(profile, *(a.format(**values) for a in args), **kwargs)

    with ThreadPoolExecutor(len(RUNS)) as pool:
        return dict(zip(RUNS, pool.map(run, RUNS), strict=True))


def test_family_option_restricts_the_run(runs: dict[str, SuiteRun]) -> None:
    v4 = runs["ipv4"]
    assert set(v4.cases) == {
        "test_firewall[dualstack.netcheck.test]",
        "test_tls12[dualstack.netcheck.test]",
        "test_firewall[v6broken]",
        "test_tls12[v6broken]",
    }
    assert v4.exit_code == 0
    v6 = runs["ipv6"]
    assert v6.verdict("test_tls12[v6broken-ipv6]") == ("failed", "tcp", "ipv6_broken")


def test_interception_can_be_a_warning(runs: dict[str, SuiteRun]) -> None:
    run = runs["warn"]
    case = run.cases["test_firewall[intercepted.netcheck.test]"]
    assert case.outcome == "passed"
    assert (case.props["outcome"], case.props["cause"]) == ("warn", "tls_interception")
    assert "NetcheckWarning" in run.output and run.exit_code == 0


def test_inspecting_proxy_is_detected(runs: dict[str, SuiteRun]) -> None:
    run = runs["mitm"]
    assert run.verdict("test_firewall[ok.netcheck.test]") == ("failed", "tls", "tls_interception")
    message = run.cases["test_firewall[ok.netcheck.test]"].message
    assert f"through the proxy {MITM_URL}" in message
    # The IPv6 variant does not apply: through a proxy, the proxy picks the family.
    assert run.verdict("test_firewall[ok.netcheck.test-ipv6]") == ("skipped", "", "")


def test_without_expected_roots_nothing_is_flagged(runs: dict[str, SuiteRun]) -> None:
    """A profile that declares no roots gets no interception verdicts (the check is off)."""
    run = runs["no roots"]
    assert run.verdict("test_firewall[intercepted.netcheck.test]") == ("passed", "", "")
    # Nor IPv6 variants by default on a machine (this namespace) without an IPv6 route.
    assert "IPv4 (no IPv6 route on this machine)" in run.output
    assert not [name for name in run.cases if "-ipv6" in name]


def test_shipped_profile_flags_a_local_ca_re_signing_a_real_name(
    lab: Lab, runs: dict[str, SuiteRun]
) -> None:
    """endpoints.toml expects the public web PKI ("public"): a CA trusted only locally (here
    the lab CA, not expected for this run) re-signing officecdn.microsoft.com is inspection."""
    run = runs["shipped"]
    assert run.verdict("test_firewall[officecdn.microsoft.com]") == (
        "failed",
        "tls",
        "tls_interception",
    )
    issuer = lab.ca.certificate.subject.rfc4514_string()
    assert issuer in run.cases["test_firewall[officecdn.microsoft.com]"].message


def test_profile_names_the_expected_root(runs: dict[str, SuiteRun]) -> None:
    run = runs["profile root"]
    assert run.verdict("test_firewall[wildcard.netcheck.test]") == ("passed", "", "")
    assert run.verdict("test_firewall[intercepted.netcheck.test]") == (
        "failed",
        "tls",
        "tls_interception",
    )


@pytest.mark.parametrize("where", ["file", "url"])
def test_pac_file_picks_the_proxy_per_url(lab: Lab, runs: dict[str, SuiteRun], where: str) -> None:
    source = str(lab.workdir / "proxy.pac") if where == "file" else PAC_URL
    run = runs[f"pac {where}"]
    ok = run.cases["test_firewall[ok.netcheck.test]"]
    assert (ok.outcome, ok.props["proxy"]) == ("passed", "")
    denied = run.cases["test_firewall[denied.netcheck.test]"]
    assert (denied.props["cause"], denied.props["proxy"]) == ("proxy_denied", PROXY_URL)
    assert f"pac: {source}: PROXY {PROXY[0]}:{PROXY[1]}; DIRECT" in denied.message
    assert f"PAC file {source}" in run.output  # the header says where proxies come from


def test_unusable_pac_stops_the_run(runs: dict[str, SuiteRun]) -> None:
    run = runs["bad pac"]
    assert run.exit_code == 4 and "--pac:" in run.output and "not a usable PAC file" in run.output


def test_a_pac_url_with_a_password_is_refused_without_showing_it(runs) -> None:
    run = runs["pac url with a password"]
    assert run.exit_code == 4 and "credentials (user:password@) are not allowed" in run.output
    assert "pac-secret" not in run.output
