"""Findings from records, in-process: the grouping by root cause, the machine-wide
collapse, order, baseline marks, sites, and the verdict line."""

from __future__ import annotations

from typing import Any

from netcheck import findings
from netcheck.plugin import page
from netcheck.results import NEW_FAILURE, UNCHANGED, Record, tried

PURPOSE = "Microsoft 365 Apps activation"


def rec(
    host: str,
    check: str = "firewall",
    outcome: str = "pass",
    layer: str | None = None,
    cause: str | None = None,
    **extra: Any,
) -> Record:
    """A record as netcheck.results.record makes it, with the fields findings read."""
    scheme = extra.pop("scheme", "https")
    suffix = extra.pop("suffix", "")
    site = extra.pop("site", None)
    at = f"@{site}" if site else ""
    return {
        "id": f"tests_network/test_{check}.py::test_{check}[{host}{suffix}{at}]",
        "site": site,
        "check": check,
        "endpoint": host,
        "target": f"{scheme}://{host}/",
        "required": extra.pop("required", True),
        "outcome": outcome,
        "layer": layer,
        "cause": cause,
        "detail": f"{host}: {cause}" if cause else "",
        "phases": {"resolve": 0.01, "connect": 0.01},
        "tried": extra.pop("tried", []),
        "proxy": extra.pop("proxy", None),
        "evidence": extra.pop("evidence", {}),
        "change": extra.pop("change", None),
        **extra,
    }


def failing(host: str, layer: str, cause: str, **extra: Any) -> list[Record]:
    """A blocked host's firewall checks (IPv4 and IPv6) and its TLS 1.2 check."""
    return [
        rec(host, outcome="fail", layer=layer, cause=cause, **extra),
        rec(host, outcome="fail", layer=layer, cause=cause, suffix="-ipv6", **extra),
        rec(host, "tls", outcome="fail", layer=layer, cause=cause, **extra),
    ]


FIREWALL = [
    *failing("officecdn.example", "tcp", "timeout", tried=["198.18.1.18:443 timeout"]),
    *failing("login.example", "tcp", "timeout"),
    *failing("activation.example", "tcp", "connection_refused"),
    *failing("crl.example", "tcp", "connection_refused", scheme="http"),
    *failing("ajax.example", "dns", "dns_nxdomain"),
    *failing("images.example", "dns", "dns_servfail"),
    *[rec(f"ok{n}.example") for n in range(10)],
]


def test_each_blocked_host_is_one_finding_with_its_fix_once() -> None:
    found = findings.compute(FIREWALL)
    assert len(found) == 6
    assert [f.id for f in found] == ["F1", "F2", "F3", "F4", "F5", "F6"]
    assert [f.layer for f in found] == ["dns", "dns", "tcp", "tcp", "tcp", "tcp"]  # path order
    assert all(len(f.checks) == 3 and f.severity == "blocking" for f in found)
    dropped = next(f for f in found if f.hosts == ["officecdn.example:443"])
    assert dropped.headline == "tcp / timeout: officecdn.example:443"
    assert dropped.tried == ["198.18.1.18:443 timeout"]
    assert dropped.advice.startswith("Packets are dropped silently")
    refused = next(f for f in found if f.hosts == ["crl.example:80"])
    assert refused.cause == "connection_refused" and refused.about == "host"
    assert findings.by_check(found)[FIREWALL[0]["id"]] is dropped


def test_no_dns_at_all_is_one_machine_wide_finding() -> None:
    records = [r for n in range(15) for r in failing(f"h{n}.example", "dns", "timeout")]
    (only,) = findings.compute(records, {None: "10.0.0.53"})
    assert only.about == "all" and len(only.checks) == 45 and len(only.hosts) == 15
    assert only.headline == "dns / timeout: no name resolves (resolver 10.0.0.53)"
    assert "No DNS server answered" in only.advice  # the advice of a DNS timeout, not TCP's


def test_a_host_level_cause_stays_per_host_while_other_checks_get_past_it() -> None:
    records = [*failing("a.example", "dns", "timeout"), *failing("b.example", "dns", "timeout")]
    assert len(findings.compute([*records, rec("c.example")])) == 2
    (wide,) = findings.compute(records)
    assert wide.about == "all"


def test_tls_inspection_on_every_host_is_one_finding_naming_the_ca() -> None:
    ca = "OU=corp inspection CA,O=Contoso"
    proxy = "http://198.18.0.1:3128"
    evidence = {"certificate_issuer": ca}
    records = [
        r
        for n in range(14)
        for r in failing(f"h{n}.example", "tls", "tls_interception", proxy=proxy, evidence=evidence)
    ]
    records.append(rec("spliced.example", proxy=proxy))
    (only,) = findings.compute(records)
    assert (only.about, only.subject, len(only.checks)) == ("ca", ca, 42)
    assert only.headline == f"tls / tls_interception: by {ca}"
    assert only.hit.startswith("14 destinations: h0.example:443, h1.example:443")


def test_a_proxy_refusing_everything_is_one_finding_about_the_proxy() -> None:
    proxy = "http://alice:***@proxy.example:3128"
    records = [
        r for n in range(5) for r in failing(f"h{n}.example", "proxy", "proxy_denied", proxy=proxy)
    ]
    (only,) = findings.compute(records)
    assert (only.about, only.subject) == ("proxy", proxy)
    assert only.headline == f"proxy / proxy_denied: the proxy {proxy}"


def test_required_problems_come_first_and_optional_ones_do_not_block() -> None:
    records = [
        rec("optional.example", outcome="fail", layer="tcp", cause="timeout", required=False),
        *failing("required.example", "http", "http_status"),
        rec("warned.example", outcome="warn", layer="tls", cause="tls_interception"),
    ]
    found = findings.compute(records)
    assert [(f.severity, f.hosts) for f in found] == [
        ("blocking", ["required.example:443"]),
        ("optional", ["optional.example:443"]),
        ("warning", ["warned.example:443"]),
    ]
    text = findings.verdict(PURPOSE, records, found).text
    assert text == (
        f"No: {PURPOSE} is blocked from here by 1 problem (3 failed checks); "
        "also 1 optional problem and 1 warning."
    )
    ok = findings.verdict(PURPOSE, records[:1], findings.compute(records[:1]))
    assert ok.ok and ok.text == (
        f"Yes: nothing blocks {PURPOSE} from here (1 check made); also 1 optional problem."
    )
    assert findings.verdict(PURPOSE, [rec("x", outcome="skip")], []).text.startswith("Not known")


def test_a_problem_with_one_newly_failing_check_is_new() -> None:
    records = [
        *failing("known.example", "tcp", "timeout", change=UNCHANGED),
        rec("fresh.example", outcome="fail", layer="tcp", cause="timeout", change=NEW_FAILURE),
        rec("fresh.example", "tls", outcome="fail", layer="tcp", cause="timeout", change=UNCHANGED),
    ]
    new = {f.hosts[0]: f.new for f in findings.compute([*records, rec("ok.example")])}
    assert new == {"known.example:443": False, "fresh.example:443": True}


def test_one_problem_seen_at_several_sites_names_them() -> None:
    records = [
        *failing("blocked.example", "tcp", "timeout", site="hq"),
        *failing("blocked.example", "tcp", "timeout", site="branch1"),
        *failing("only-hq.example", "tcp", "connection_refused", site="hq"),
        rec("ok.example", site="hq"),
        rec("ok.example", site="branch1"),
    ]
    both, hq = findings.compute(records)
    assert both.headline == "tcp / timeout: blocked.example:443 at sites hq, branch1"
    assert len(both.checks) == 6 and hq.sites == ["hq"]


def test_an_internal_error_is_netchecks_own_finding() -> None:
    (bug,) = findings.compute([rec("x.example", outcome="error"), rec("ok.example")])
    assert (bug.layer, bug.cause, bug.about) == ("netcheck", "internal_error", "all")
    assert "bug in netcheck" in bug.advice


def test_tried_comes_from_attempts_else_from_the_address_connected_to() -> None:
    attempts = {"attempts": "198.51.100.7:443 timeout after 250 ms; 198.51.100.8:443 refused"}
    assert tried(attempts, "https://h/") == ["198.51.100.7:443 timeout", "198.51.100.8:443 refused"]
    connected = {"address": "192.0.2.1 port 8443"}
    assert tried(connected, "https://h:8443/") == ["192.0.2.1:8443 connected"]
    assert tried({}, "https://h/") == []


def test_hosts_refused_alike_at_a_shared_address_are_one_finding() -> None:
    shared = ["192.0.2.9:443 connection_refused after 2 ms", "192.0.2.10:443 connected in 1 ms"]
    records = [
        r
        for n in range(30)
        for r in failing(f"h{n}.example", "tcp", "connection_refused", tried=shared)
    ]
    records += failing(
        "own.example", "tcp", "connection_refused", tried=["192.0.2.10:443 connection_refused"]
    )
    records += [rec("ok.example")]
    shared_finding, own = findings.compute(records)
    assert (shared_finding.about, shared_finding.subject, len(shared_finding.checks)) == (
        "address",
        "192.0.2.9:443",
        90,
    )
    assert shared_finding.headline == "tcp / connection_refused: 192.0.2.9:443"
    assert shared_finding.tried == ["192.0.2.9:443 connection_refused"]  # timings dropped
    assert shared_finding.hit.startswith("30 destinations: h0.example:443, h1.example:443")
    assert own.headline == "tcp / connection_refused: own.example:443"


def test_the_html_escapes_what_the_network_names_and_marks_new_findings() -> None:
    ca = '<img src=x onerror=alert(1)>"'
    records = [
        *failing("a.example", "tls", "tls_interception", evidence={"certificate_issuer": ca}),
        rec("b.example", outcome="fail", layer="tcp", cause="timeout", change=NEW_FAILURE),
        rec("ok.example"),
    ]
    found = findings.compute(records)
    verdict = findings.verdict(PURPOSE, records, found)
    html = page.findings_html(verdict, found, records, "about")
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;&quot;" in html
    assert html.count('class="nc-new"') == 1  # b.example newly fails
    assert '<p class="nc-verdict nc-bad">No: ' in html
    data = html[html.index('id="nc-data">') :].split("</script>")[0]
    assert "<" not in data.removeprefix('id="nc-data">')  # check ids cannot close the script


def test_the_picture_colours_each_layer_by_how_far_the_checks_got() -> None:
    dropped = rec("d.example", outcome="fail", layer="tcp", cause="timeout")
    assert page.layer_states(dropped) == {
        "dns": "pass",
        "tcp": "fail",
        "proxy": "none",
        "tls": "none",
        "http": "none",
        "content": "none",
    }
    ok = rec("ok.example") | {"phases": {"resolve": 0.1, "connect": 0.1, "tls": 0.1, "http": 0.1}}
    assert set(page.layer_states(ok).values()) == {"pass", "none"}
    assert page.layer_states(ok)["content"] == "pass"
    picture = page.picture_html([ok, dropped], findings.compute([ok, dropped]))
    assert picture.index("d.example") < picture.index("ok.example")  # problems first


def test_a_large_run_draws_rows_of_crowded_outcomes_on_demand() -> None:
    def html(records: list[Record]) -> str:
        found = findings.compute(records)
        return page.findings_html(findings.verdict(PURPOSE, records, found), found, records, "")

    passing = [rec(f"p{n}.example") for n in range(page.LARGE)]
    few = [rec("f.example", outcome="fail", layer="tcp", cause="timeout")]
    many = [
        rec(f"f{n}.example", outcome="fail", layer="tcp", cause="timeout")
        for n in range(page.LARGE + 1)
    ]
    assert "history.replaceState" not in html(passing)  # small: pytest-html draws every row
    assert "?visible=failed,error,xfailed,xpassed'" in html(passing + few)
    assert "?visible=error'" in html(passing + many)


def test_one_host_refused_on_two_ports_stays_a_finding_about_the_host() -> None:
    records = [
        rec(
            "crl.example",
            outcome="fail",
            layer="tcp",
            cause="connection_refused",
            tried=["192.0.2.8:443 connection_refused"],
        ),
        rec(
            "crl.example",
            "crl",
            outcome="fail",
            layer="tcp",
            cause="connection_refused",
            scheme="http",
            tried=["192.0.2.8:80 connection_refused"],
        ),
        rec("ok.example"),
    ]
    (only,) = findings.compute(records)
    assert only.headline == "tcp / connection_refused: crl.example:443, crl.example:80"


def host_rec(check_id: str, outcome: str, cause: str | None = None, detail: str = "") -> Record:
    """A Windows host check's record: it names no endpoint URL."""
    layer = "host" if cause else None
    return rec(check_id, "host", outcome, layer, cause) | {"target": None, "detail": detail}


def test_windows_settings_are_a_finding_about_this_machine_in_their_own_section() -> None:
    records = [
        *FIREWALL,
        host_rec("service-NlaSvc", "fail", "host_service_stopped", "NlaSvc is stopped"),
        host_rec("service-EventLog", "fail", "host_service_stopped", "EventLog is stopped"),
        host_rec("tls12-winhttp", "pass", detail="TLS 1.2 is on"),
    ]
    found = findings.compute(records)
    (machine,) = [f for f in found if f.layer == "host"]
    # two stopped services are one problem of this machine, not "every destination fails"
    assert machine.headline == (
        "host / host_service_stopped: this machine (service-NlaSvc, service-EventLog)"
    )
    section = page.machine_html(records, found)
    assert "Network Location Awareness (NlaSvc) is running" in section
    assert section.index("EventLog is stopped") < section.index("TLS 1.2 is on")  # fails first
    assert machine.id in section
    assert "service-NlaSvc" not in page.picture_html(records, found)  # endpoints only


def test_host_checks_skipped_off_windows_are_one_sentence() -> None:
    records = [host_rec(c, "skip", detail="Windows only") for c in ("tls12-schannel", "ipv6-state")]
    assert page.machine_html(records, []) == (
        '<p class="nc-detail netcheck">This machine: 2 Windows settings from the checklist '
        "not checked (Windows only).</p>"
    )
    assert page.machine_html(FIREWALL, []) == ""
