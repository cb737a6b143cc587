"""Resolving and connecting like the client: the OS resolver and the hosts file, DNS
filters, AAAA trouble, several addresses (issue: fidelity of the resolver).

Each fault is asserted in-process against the engine (layer, cause, outcome, deadline), with
the lab's DNS server as --nameserver ("dns") and as the system resolver ("os": ./selftest
mounts tests/data/etc/resolv.conf and hosts in the self-tests' own mount namespace).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from netcheck.engine import Check, run
from netcheck.net import Nameserver, Network
from netcheck.net.resolve import Resolver
from netcheck.net.tls import Trust
from netcheck.profile import Endpoint, TlsPolicy
from netcheck.result import Result
from netcheck.trust import spki_pin
from tests.loopback_lab import BLOCK_PAGE, DROPPED, ORIGIN, V6_BROKEN_PORT, Lab

TIMEOUT = 2.0
SLACK = 0.5  # past the deadline, at most (the deadline may have been extended: see evidence)
OS = os.environ.get("NETCHECK_SELFTEST_RESOLVER") == "1"
MODES = ["dns", pytest.param("os", marks=pytest.mark.skipif(not OS, reason="run by ./selftest"))]


@pytest.fixture(scope="module")
def networks(lab: Lab) -> Iterator[dict[str, Network]]:
    trust = Trust((lab.ca_pem,))
    made = {
        "dns": Network(Resolver((Nameserver.parse(lab.nameserver),)), trust=trust),
        "os": Network(Resolver(), trust=trust),
        "dns+block": Network(
            Resolver((Nameserver.parse(lab.nameserver),), [BLOCK_PAGE]), trust=trust
        ),
    }
    yield made
    for network in made.values():
        network.close()


def probe(network: Network, url: str, lab: Lab, family: str = "any") -> Result:
    policy = TlsPolicy((spki_pin(lab.ca.certificate),))
    endpoint = Endpoint(url, url, family=family, split=family != "any", tls=policy)
    result = asyncio.run(run(Check("firewall", endpoint), network, TIMEOUT))
    extended = float(result.evidence.get("deadline_extended", "0 s").split()[0])
    assert result.elapsed < TIMEOUT + extended + SLACK, result.explain()
    return result


def verdict(result: Result) -> tuple[str, str | None, str | None]:
    return result.outcome.value, result.layer and result.layer.value, result.cause


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("scheme", ["http", "https"])
@pytest.mark.parametrize("name", ["sinkhole0", "sinkhole127"])
def test_sinkholed_names_are_blocked_by_dns(networks, lab, mode, scheme, name) -> None:
    """0.0.0.0 and 127.0.0.1 are a DNS filter's answer, never a server to connect to."""
    result = probe(networks[mode], f"{scheme}://{name}.netcheck.test/", lab)
    assert verdict(result) == ("fail", "dns", "dns_blocked"), result.explain()
    assert "blocked by the DNS server" in result.detail
    assert "hosts file" in result.advice


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_a_listed_block_page_never_passes(networks, lab, scheme) -> None:
    """The block page answers 200 on 80 and 443; with --block-page it is a DNS block."""
    result = probe(networks["dns+block"], f"{scheme}://blockpage.netcheck.test/", lab)
    assert verdict(result) == ("fail", "dns", "dns_blocked"), result.explain()
    unlisted = probe(networks["dns"], f"{scheme}://blockpage.netcheck.test/", lab)
    if scheme == "https":  # the block page cannot show the service's certificate
        assert verdict(unlisted) == ("fail", "tls", "tls_hostname_mismatch"), unlisted.explain()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fault", ["aaaadrop", "aaaaservfail", "aaaanxdomain"])
def test_aaaa_trouble_never_fails_the_ipv4_check(networks, lab, mode, fault) -> None:
    url = f"https://{fault}.netcheck.test/"
    for family in ("any", "ipv4"):  # no IPv6 route here, or the IPv4 variant of a split
        result = probe(networks[mode], url, lab, family)
        assert verdict(result) == ("pass", None, None), result.explain()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("fault", "cause"),
    [("aaaadrop", "timeout"), ("aaaaservfail", "dns_servfail"), ("aaaanxdomain", "dns_nxdomain")],
)
def test_aaaa_trouble_shows_on_the_ipv6_variant(networks, lab, mode, fault, cause) -> None:
    result = probe(networks[mode], f"https://{fault}.netcheck.test/", lab, "ipv6")
    assert verdict(result) == ("fail", "dns", cause), result.explain()
    if cause == "timeout":
        assert "port 53" in result.advice and "allow-list" not in result.advice


@pytest.mark.parametrize("mode", MODES)
def test_ipv6_only_host_without_a_route_is_a_clear_failure(networks, lab, mode) -> None:
    result = probe(networks[mode], "https://noroute6.netcheck.test/", lab)
    assert verdict(result) == ("fail", "tcp", "no_ipv6_route"), result.explain()
    assert "2001:db8::dead" in result.detail


def test_a_dead_first_address_costs_a_quarter_second_and_a_warning(networks, lab) -> None:
    """DNS answers the dropped address first: the next is tried 250 ms later, and works."""
    result = probe(networks["dns"], "https://deadfirst.netcheck.test/", lab)
    assert verdict(result) == ("warn", "tcp", "address_unreachable"), result.explain()
    attempts = result.evidence["attempts"]
    assert f"{DROPPED}:443 no answer after" in attempts
    assert f"{ORIGIN}:443 connected in" in attempts
    assert result.evidence["address"] == f"{ORIGIN} port 443"
    assert result.phases["connect"] < 1.0  # 250 ms, then the next address


def test_a_dead_last_address_is_never_tried(networks, lab) -> None:
    result = probe(networks["dns"], "https://deadlast.netcheck.test/", lab)
    assert verdict(result) == ("pass", None, None), result.explain()
    assert f"{DROPPED}:443 not tried" in result.evidence["attempts"]


@pytest.mark.skipif(not OS, reason="run by ./selftest")
@pytest.mark.parametrize("name", ["deadfirst", "deadlast"])
def test_the_os_order_of_addresses_is_kept(networks, lab, name) -> None:
    """Whatever order the OS resolver sorts them in (RFC 6724), the dead one is tried first
    only where the OS puts it first, and the check passes either way."""
    result = probe(networks["os"], f"https://{name}.netcheck.test/", lab)
    first = result.evidence["addresses"].split(", ")[0]
    expected = ("warn", "tcp", "address_unreachable") if first == DROPPED else ("pass", None, None)
    assert verdict(result) == expected, result.explain()


@pytest.mark.skipif(not OS, reason="the hosts file is mounted by ./selftest")
@pytest.mark.parametrize("name", ["pinned0", "pinned127"])
def test_a_hosts_file_pin_blocks_the_name_on_this_machine(networks, lab, name) -> None:
    """DNS answers the origin; the hosts file sends the name nowhere: blocked here."""
    result = probe(networks["os"], f"https://{name}.netcheck.test/", lab)
    assert verdict(result) == ("fail", "dns", "dns_blocked"), result.explain()
    assert "on this machine" in result.detail and ORIGIN in result.detail


@pytest.mark.skipif(not OS, reason="the hosts file is mounted by ./selftest")
def test_a_stale_hosts_pin_fails_where_dns_would_work(networks, lab) -> None:
    result = probe(networks["os"], "https://stalepin.netcheck.test/", lab)
    assert verdict(result) == ("fail", "tcp", "timeout"), result.explain()
    assert result.evidence["addresses"] == DROPPED
    assert result.evidence["dns_answer"] == ORIGIN
    assert "hosts-file entry" in result.detail
    # --nameserver asks DNS only: the pin does not count there.
    assert verdict(probe(networks["dns"], "https://stalepin.netcheck.test/", lab))[0] == "pass"


def test_each_check_decides_alone_under_xdist_and_k(lab: Lab) -> None:
    """The IPv6 variant tests IPv4 itself: the same verdict alone (-k), beside its IPv4 twin,
    and with the twin on another xdist worker."""
    profile = (
        f'[profile]\nname = "v6"\n[[endpoint]]\nurl = "https://v6broken.netcheck.test:{V6_BROKEN_PORT}/"\n'
        'id = "v6broken"\nchecks = ["firewall"]\n'
    )
    ways = [(), ("-k", "v6broken-ipv6"), ("-n", "2")]
    with ThreadPoolExecutor(len(ways)) as pool:
        runs = list(
            pool.map(lambda args: lab.run(profile, "--family=both", *args, timeout=2), ways)
        )
    for args, suite in zip(ways, runs, strict=True):
        assert suite.verdict("test_firewall[v6broken-ipv6]") == ("failed", "tcp", "ipv6_broken"), (
            args,
            suite.output[-2000:],
        )
