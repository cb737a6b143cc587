"""The daemons' configuration files, rendered from a scenario and the addressing plan.

Pure functions: text in, text out, no root and no daemon needed (the templates are in
lab/templates, `{{name}}` placeholders filled here). Paths are those of the lab's directory.
"""

from __future__ import annotations

from pathlib import Path

from lab import content
from lab.kerberos import SERVICE, Realm
from lab.plan import (
    CORP_DOMAIN,
    DNS4,
    DNS6,
    EDGE_CORP_IP,
    EDGE_CORP_IP6,
    INET_LINK,
    KDC_FQDN,
    PORTAL4,
    PORTAL6,
    PROXY_FQDN,
    PROXY_PORT,
    REALM,
    UNREACHABLE_DNS,
    Plan,
)
from lab.scenario import Scenario, ScenarioError
from netcheck import profile as profiles

TEMPLATES = Path(__file__).parent / "templates"
CERTGEN = "/usr/lib/squid/security_file_certgen"  # squid-openssl's certificate forger
HELPERS = Path("/usr/lib/squid")  # squid's authentication helpers


def template(name: str, **values: object) -> str:
    text = (TEMPLATES / name).read_text()
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", str(value))
    if "{{" in text:
        raise ValueError(f"{name}: a placeholder was left unfilled")
    return text


def resolv_conf(lab_id: str) -> str:
    """A corporate desktop's resolv.conf: the corporate resolver on the edge."""
    return f"# netcheck lab {lab_id}: the corporate resolver\nnameserver {EDGE_CORP_IP}\n"


def hosts_file(lab_id: str, pins: dict[str, list[str]]) -> str:
    """A desktop's /etc/hosts: loopback, and names pinned to addresses (name -> addresses)."""
    lines = [f"# netcheck lab {lab_id}: the desktop's hosts file", "127.0.0.1 localhost"]
    lines += ["::1 localhost ip6-localhost ip6-loopback"]
    lines += [f"{a} {name}" for name, addresses in pins.items() for a in addresses]
    return "\n".join(lines) + "\n"


def nftables(scenario: Scenario, plan: Plan, hosts: list[content.Host]) -> str:
    """The edge's firewall: the network's rules, then each site's, matched on its interface."""
    by_name = {h.name: h for h in hosts}
    s = scenario
    nat, forward = [], []

    def addresses(names: list[str]) -> tuple[str, str]:
        if unknown := [n for n in names if n not in by_name]:
            raise ScenarioError(f"scenario {s.name}: unknown hosts {unknown}")
        v4 = ", ".join(a for n in names if (a := by_name[n].v4))
        v6 = ", ".join(a for n in names if (a := by_name[n].v6))
        return v4, v6

    corp_if = plan.inside[0].edge_if
    for site in plan.sites:  # the controller in corp reaches the ssh sites' sshd
        if "ssh" in s.sites[site.name]:
            forward.append(f'iifname "{corp_if}" oifname "{site.iface}" tcp dport 22 accept')
    if s.get("captive_portal"):
        nat.append(f'iifname "{corp_if}" tcp dport 80 dnat ip to {PORTAL4}')
        nat.append(f'iifname "{corp_if}" tcp dport 80 dnat ip6 to {PORTAL6}')
    if s.get("proxy_only"):
        forward.append(f'iifname "{corp_if}" counter drop comment "direct egress is blocked"')
    if s.get("ipv6") == "drop":
        forward.append("meta nfproto ipv6 counter drop")
    rulesets = [("", s.network), *((f'iifname "{x.iface}" ', s.sites[x.name]) for x in plan.sites)]
    for match, rules in rulesets:
        for verb, action in (("drop", "drop"), ("reject", "reject with tcp reset")):
            if names := rules.get(verb):
                v4, v6 = addresses(names)
                proto = "meta l4proto tcp " if verb == "reject" else ""
                if v4:
                    forward.append(f"{match}ip daddr {{ {v4} }} {proto}counter {action}")
                if v6:
                    forward.append(f"{match}ip6 daddr {{ {v6} }} {proto}counter {action}")
    inside = ", ".join(f'"{k.edge_if}"' for k in plan.inside)
    return template(
        "nftables.conf",
        nat="\n".join(f"        {r}" for r in nat),
        forward="\n".join(f"        {r}" for r in forward),
        corp_ifs=f"{{ {inside} }}",
        inet_if=INET_LINK.edge_if,
    )


def dnsmasq(
    profile: profiles.Profile, scenario: Scenario, hosts: list[content.Host], directory: Path
) -> str:
    """The internet's authoritative DNS (in inet)."""
    records = content.dns_records(profile, scenario, hosts)
    return template("dnsmasq.conf", listen4=DNS4, listen6=DNS6, dir=directory, records=records)


def unbound(scenario: Scenario, directory: Path) -> str:
    """The corporate resolver (on the edge), forwarding to the internet's DNS; it answers
    for the corporate zone itself: the proxy and the KDC, both on the edge."""
    corp = "\n".join(
        [f'  local-zone: "{CORP_DOMAIN}." static']
        + [f'  local-data: "{name}. A {EDGE_CORP_IP}"' for name in (PROXY_FQDN, KDC_FQDN)]
    )
    zones = "\n".join(
        f'forward-zone:\n  name: "{name}"\n  forward-addr: {UNREACHABLE_DNS}'
        for name in scenario.get("servfail")
    )
    return template(
        "unbound.conf",
        listen4=EDGE_CORP_IP,
        listen6=EDGE_CORP_IP6,
        dir=directory,
        upstream=DNS4,
        corp_zone=corp,
        servfail_zones=zones,
    )


def nginx(directory: Path) -> str:
    """The internet's web servers (in inet) and the captive portal."""
    return template("nginx.conf", dir=directory, portal4=PORTAL4, portal6=PORTAL6)


def squid(scenario: Scenario, directory: Path) -> str:
    """The corporate proxy (on the edge): authentication, denied domains, TLS inspection."""
    scheme = scenario.get("proxy_auth")
    auth = "\n".join(squid_auth(scheme, directory)) if scheme else ""
    deny = ""
    if denied := scenario.get("proxy_deny"):
        deny = f"acl denied dstdomain {' '.join(denied)}\nhttp_access deny denied"
    bump_port, bump = squid_bump(scenario, directory) if scenario.get("proxy_bump") else ("", "")
    return template(
        "squid.conf",
        listen=f"{EDGE_CORP_IP}:{PROXY_PORT}",
        dns=EDGE_CORP_IP,
        logdir=directory / "squid",
        auth=auth,
        deny=deny,
        bump_port=bump_port,
        bump=bump,
    )


def squid_auth(scheme: str, directory: Path) -> list[str]:
    """squid's rules requiring authentication (407 without): basic against a password file;
    NTLM with squid's fake helper (it accepts any user and password: checking them needs a
    domain controller); Negotiate with Kerberos tickets for HTTP/<proxy fqdn>, checked
    against its keytab."""
    if scheme == "basic":
        params = [
            f"auth_param basic program {HELPERS}/basic_ncsa_auth {directory}/squid.passwd",
            'auth_param basic realm "netcheck lab proxy"',
        ]
    else:
        helper = {
            "ntlm": f"{HELPERS}/ntlm_fake_auth",
            "negotiate": f"{HELPERS}/negotiate_kerberos_auth"
            f" -k {Realm.of(directory).proxy_keytab} -s {SERVICE}",
        }[scheme]
        params = [
            f"auth_param {scheme} program {helper}",
            f"auth_param {scheme} children 2 startup=1",
            f"auth_param {scheme} keep_alive on",
        ]
    return [*params, "acl authenticated proxy_auth REQUIRED", "http_access deny !authenticated"]


def krb5_conf() -> str:
    return template("krb5.conf", realm=REALM, kdc=KDC_FQDN, domain=CORP_DOMAIN)


def kdc_conf(directory: Path) -> str:
    """The KDC's own configuration: its database and log in `directory` (<lab dir>/krb5)."""
    return template("kdc.conf", realm=REALM, listen=EDGE_CORP_IP, dir=directory)


def sshd_config(address: str, directory: Path) -> str:
    """A site's sshd: on its address, its host key and authorized_keys in `directory`."""
    return template("sshd_config", listen=address, dir=directory)


def ssh_config(directory: Path) -> str:
    """The controller's ssh client options (-F), its key and known_hosts in `directory`."""
    return template("ssh_config", dir=directory)


def squid_bump(scenario: Scenario, directory: Path) -> tuple[str, str]:
    """squid.conf's http_port options and rules for TLS inspection with the corp CA: peek at
    the SNI, splice `proxy_splice` names, bump the rest. Forged certificates come from
    security_file_certgen, whose database lives in the lab's directory."""
    db = directory / "ssl_db"
    port = (
        f" ssl-bump tls-cert={directory}/corp-ca.pem tls-key={directory}/corp-ca.key"
        " generate-host-certificates=on dynamic_cert_mem_cache_size=4MB"
    )
    spliced = scenario.get("proxy_splice") or ["splice.invalid"]
    rules = (
        f"sslcrtd_program {CERTGEN} -s {db} -M 4MB\n"
        "sslcrtd_children 2 startup=1 idle=1\n"
        f"tls_outgoing_options cafile={directory}/ca.pem\n"
        "acl step1 at_step SslBump1\n"
        f"acl spliced ssl::server_name {' '.join(spliced)}\n"
        "ssl_bump peek step1\n"
        "ssl_bump splice spliced\n"
        "ssl_bump bump all"
    )
    return port, rules
