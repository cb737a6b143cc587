"""The lab's addressing plan and daemon configurations, rendered in-process for a few
scenarios: no root, no namespace, no daemon. test_lab_e2e.py proves the daemons accept them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lab import content, plan, render
from lab import scenario as scenarios
from lab.topology import REPO
from netcheck import profile as profiles

PROFILE = profiles.load(REPO / "endpoints.toml")
HOSTS = content.hosts(PROFILE)
BY_NAME = {h.name: h for h in HOSTS}
DIR = Path("/tmp/nc-test-lab")


def load(name: str) -> tuple[scenarios.Scenario, plan.Plan]:
    scenario = scenarios.load(name)
    return scenario, plan.make("nc-1-abcd", scenario.sites)


def nft(name: str) -> str:
    scenario, p = load(name)
    return render.nftables(scenario, p, HOSTS)


def forward_rules(ruleset: str) -> list[str]:
    chain = ruleset.split("chain forward")[1]
    return [line.strip() for line in chain.splitlines()[2:] if line.strip() not in ("}", "")]


def test_plan_links_corp_and_sites_through_the_edge_only() -> None:
    _, p = load("sites")
    assert p.roles == ["corp", "edge", "inet", "hq", "branch1", "branch2"]
    batches = p.batches(["198.19.1.1", "2001:db8:1:1::1"])
    corp = batches["nc-1-abcd-corp"]
    assert "addr add 198.18.0.2/30 dev eth0" in corp
    assert corp[-2:] == ["route add default via 198.18.0.1", "route add ::/0 via 2001:db8:0:1::1"]
    branch2 = batches["nc-1-abcd-branch2"]  # site 3
    assert "addr add 198.18.1.14/30 dev eth0" in branch2
    assert "route add default via 198.18.1.13" in branch2
    assert "addr add 198.18.1.13/30 dev site3" in batches["nc-1-abcd-edge"]
    inet = batches["nc-1-abcd-inet"]
    assert "route add 198.18.0.0/30 via 198.18.0.5" in inet
    assert "route add 198.18.1.0/24 via 198.18.0.5" in inet  # back to the sites
    assert {"addr add 198.19.1.1/32 dev lo", "addr add 2001:db8:1:1::1/128 dev lo nodad"} <= set(
        inet
    )
    # Only the edge routes beyond its links, and only to the lab's internet.
    routes = [line for lines in batches.values() for line in lines if " via " in line]
    assert all(re.search(r"via (198\.18\.|2001:db8:0:)", r) and "0.0.0.0" not in r for r in routes)
    assert [c[:3] for c in p.veth_commands()] == [["ip", "-n", "nc-1-abcd-edge"]] * 5


def test_plan_without_sites_routes_back_to_corp_only() -> None:
    inet = load("healthy")[1].batches([])["nc-1-abcd-inet"]
    assert [r for r in inet if "route" in r] == [
        "route add 198.18.0.0/30 via 198.18.0.5",
        "route add 2001:db8:0:1::/64 via 2001:db8:0:2::1",
    ]


def test_firewall_drops_and_rejects_the_scenarios_hosts() -> None:
    rules = forward_rules(nft("firewall"))
    dropped = [BY_NAME[n] for n in ("officecdn.microsoft.com", "login.windows.net")]
    rejected = [BY_NAME[n] for n in ("activation.sls.microsoft.com", "crl.microsoft.com")]
    assert rules == [
        "ct state established,related accept",
        f"ip daddr {{ {', '.join(h.v4 for h in dropped)} }} counter drop",
        f"ip6 daddr {{ {', '.join(h.v6 for h in dropped)} }} counter drop",
        f"ip daddr {{ {', '.join(h.v4 for h in rejected)} }} meta l4proto tcp counter reject"
        " with tcp reset",
        f"ip6 daddr {{ {', '.join(h.v6 for h in rejected)} }} meta l4proto tcp counter reject"
        " with tcp reset",
        'iifname { "corp0" } oifname "inet0" accept',
    ]


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("proxy-only", 'iifname "corp0" counter drop comment "direct egress is blocked"'),
        ("ipv6-broken", "meta nfproto ipv6 counter drop"),
    ],
)
def test_firewall_blocks_what_the_scenario_blocks(name: str, rule: str) -> None:
    assert rule in forward_rules(nft(name))
    assert rule not in forward_rules(nft("healthy"))


def test_captive_portal_redirects_plain_http_only() -> None:
    ruleset = nft("captive-portal")
    assert 'iifname "corp0" tcp dport 80 dnat ip to 198.19.2.1' in ruleset
    assert 'iifname "corp0" tcp dport 80 dnat ip6 to 2001:db8:1:2::1' in ruleset
    assert "dnat" not in nft("healthy")


def test_each_sites_rules_match_its_interface() -> None:
    rules = forward_rules(nft("sites"))
    cdn = BY_NAME["officecdn.microsoft.com"]
    assert f'iifname "site2" ip daddr {{ {cdn.v4} }} counter drop' in rules
    assert any(r.startswith('iifname "site3" ip daddr') and "reset" in r for r in rules)
    assert not any('"site1" ip' in r for r in rules)  # hq: no rule of its own
    assert rules[-1] == 'iifname { "corp0", "site1", "site2", "site3" } oifname "inet0" accept'


def test_controller_reaches_only_the_ssh_sites_sshd() -> None:
    rules = forward_rules(nft("sites-ssh"))
    ssh = [r for r in rules if "dport 22" in r]
    # north, south, east, down, nokey, old: sites 1-6, all reached over ssh.
    assert ssh == [f'iifname "corp0" oifname "site{i}" tcp dport 22 accept' for i in range(1, 7)]
    assert rules.index(ssh[-1]) < rules.index(next(r for r in rules if r.endswith("drop")))
    assert not [r for r in forward_rules(nft("sites")) if "dport 22" in r]  # popen sites


def test_ssh_configs() -> None:
    sshd = render.sshd_config("198.18.1.6", DIR / "ssh" / "north").splitlines()
    for line in (
        "ListenAddress 198.18.1.6",
        f"HostKey {DIR}/ssh/north/host_key",
        f"AuthorizedKeysFile {DIR}/ssh/north/authorized_keys",
        "PermitRootLogin prohibit-password",
        "PasswordAuthentication no",
        "UsePAM no",
    ):
        assert line in sshd
    client = [line.strip() for line in render.ssh_config(DIR / "ssh").splitlines()]
    for line in (
        f"IdentityFile {DIR}/ssh/id_ed25519",
        "IdentitiesOnly yes",
        f"UserKnownHostsFile {DIR}/ssh/known_hosts",
        "StrictHostKeyChecking yes",
        "BatchMode yes",
    ):
        assert line in client


def test_unknown_host_in_a_rule_names_the_scenario(tmp_path: Path) -> None:
    path = tmp_path / "typo.toml"
    path.write_text('[network]\ndrop = ["login.microsoftonline.con"]\n')
    with pytest.raises(scenarios.ScenarioError, match=r"typo: unknown hosts \['login"):
        render.nftables(scenarios.load(path), plan.make("x"), HOSTS)


def test_dns_records_follow_the_scenario() -> None:
    firewall = render.dnsmasq(PROFILE, scenarios.load("firewall"), HOSTS, DIR)
    assert "host-record=ajax.aspnetcdn.com," not in firewall  # nxdomain
    login = BY_NAME["login.microsoftonline.com"]
    assert f"host-record=login.microsoftonline.com,{login.v4},{login.v6}" in firewall
    assert "listen-address=198.19.0.53" in firewall and f"log-facility={DIR}/" in firewall
    wrong = render.dnsmasq(PROFILE, scenarios.load("ncsi-dns-wrong"), HOSTS, DIR)
    assert "host-record=dns.msftncsi.com,198.19.255.1,fd3e:4f5a:5b81::1" in wrong
    msoid = render.dnsmasq(PROFILE, scenarios.load("msoid"), HOSTS, DIR)
    assert "cname=msoid.tailspin.test,clientconfig.partner.microsoftonline-p.net.cn" in msoid
    assert "msoid.fabrikam.test" not in msoid


def test_resolver_sends_servfail_zones_nowhere() -> None:
    text = render.unbound(scenarios.load("firewall"), DIR)
    assert 'name: "aadcdn.msauthimages.net"\n  forward-addr: 198.18.255.254' in text
    assert "interface: 198.18.0.1" in text and "forward-addr: 198.19.0.53" in text
    assert "198.18.255.254" not in render.unbound(scenarios.load("healthy"), DIR)


def test_proxy_auth_and_deny() -> None:
    text = render.squid(scenarios.load("proxy-auth"), DIR)
    assert f"auth_param basic program {render.HELPERS}/basic_ncsa_auth {DIR}/squid.passwd" in text
    # Authentication first (407), then the denied domains (403), then the rest.
    order = ["http_access deny !authenticated", "http_access deny denied", "http_access allow"]
    assert [text.index(x) for x in order] == sorted(text.index(x) for x in order)
    assert "acl denied dstdomain .msauthimages.net ajax.aspnetcdn.com" in text
    assert "ssl-bump" not in text


@pytest.mark.parametrize(
    ("name", "helper"),
    [
        ("proxy-ntlm", "auth_param ntlm program /usr/lib/squid/ntlm_fake_auth"),
        (
            "proxy-negotiate",
            f"auth_param negotiate program /usr/lib/squid/negotiate_kerberos_auth -k {DIR}/krb5/"
            "proxy.keytab -s HTTP/proxy.corp.lab.test@CORP.LAB.TEST",
        ),
    ],
)
def test_proxy_ntlm_and_negotiate(name: str, helper: str) -> None:
    text = render.squid(scenarios.load(name), DIR)
    assert helper in text.splitlines()
    assert "keep_alive on" in text and "basic" not in text
    assert text.index("http_access deny !authenticated") < text.index("http_access deny denied")


def test_corporate_names_resolve_to_the_edge() -> None:
    text = render.unbound(scenarios.load("healthy"), DIR)
    assert 'local-zone: "corp.lab.test." static' in text
    assert 'local-data: "proxy.corp.lab.test. A 198.18.0.1"' in text
    assert 'local-data: "kdc.corp.lab.test. A 198.18.0.1"' in text


def test_kerberos_realm_without_dns_lookups() -> None:
    client = render.krb5_conf()
    assert "default_realm = CORP.LAB.TEST" in client and "kdc = kdc.corp.lab.test" in client
    for setting in ("dns_lookup_kdc", "dns_lookup_realm", "dns_canonicalize_hostname", "rdns"):
        assert f"{setting} = false" in client
    kdc = render.kdc_conf(DIR / "krb5")
    assert "kdc_listen = 198.18.0.1:88" in kdc and f"database_name = {DIR}/krb5/principal" in kdc


def test_proxy_inspection_bumps_all_but_the_spliced() -> None:
    text = render.squid(scenarios.load("proxy-inspection"), DIR)
    assert f"http_port 198.18.0.1:3128 ssl-bump tls-cert={DIR}/corp-ca.pem" in text
    assert "acl spliced ssl::server_name officecdn.microsoft.com" in text
    assert text.index("ssl_bump splice spliced") < text.index("ssl_bump bump all")
    assert "auth_param" not in text


def test_hosts_file_pins_both_families() -> None:
    text = render.hosts_file("nc-1-abcd", scenarios.load("hosts-file").hosts)
    lines = text.splitlines()
    assert lines[1:3] == ["127.0.0.1 localhost", "::1 localhost ip6-localhost ip6-loopback"]
    assert lines[3:] == [
        "0.0.0.0 activation.sls.microsoft.com",
        ":: activation.sls.microsoft.com",
        "127.0.0.1 ols.officeapps.live.com",
        "::1 ols.officeapps.live.com",
        f"{plan.DEAD4} crl.microsoft.com",
        f"{plan.DEAD6} crl.microsoft.com",
    ]
    assert render.hosts_file("x", {}).count("\n") == 3  # a comment and loopback only


def test_bad_hosts_pin_names_the_host(tmp_path: Path) -> None:
    path = tmp_path / "pins.toml"
    path.write_text('[network]\nhosts = { "crl.microsoft.com" = "dead" }\n')
    with pytest.raises(scenarios.ScenarioError, match=r"hosts crl\.microsoft\.com: 'dead'"):
        scenarios.load(path)


def test_web_servers_and_portal() -> None:
    text = render.nginx(DIR)
    assert f"root {DIR}/www/$host;" in text
    assert "listen 198.19.2.1:80;" in text and "listen [2001:db8:1:2::1]:80;" in text


@pytest.mark.parametrize("name", scenarios.names())
def test_every_scenario_renders(name: str) -> None:
    scenario, p = load(name)
    texts = [
        render.nftables(scenario, p, HOSTS),
        render.dnsmasq(PROFILE, scenario, HOSTS, DIR),
        render.unbound(scenario, DIR),
        render.squid(scenario, DIR),
    ]
    assert not any("{{" in t for t in texts)


def test_unfilled_placeholder_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"nginx\.conf: a placeholder was left unfilled"):
        render.template("nginx.conf", dir=DIR)
