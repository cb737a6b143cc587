"""The lab's addressing plan: namespaces, links, addresses and routes, as data.

    corp (the suite)        edge (firewall, resolver, proxy)          inet (DNS, web servers)
    eth0 198.18.0.2/30 ─── corp0 198.18.0.1/30
         2001:db8:0:1::2        2001:db8:0:1::1
                           inet0 198.18.0.5/30 ─────────────────── eth0 198.18.0.6/30
                                 2001:db8:0:2::1                         2001:db8:0:2::2
                                                                    lo   198.19.1.N, 2001:db8:1:1::N

A scenario with [sites] adds one namespace per site, linked to the edge like corp (site i:
edge side `site<i>` 198.18.1.<4i+1>/30 and 2001:db8:0:3<i>::1/64, the site's eth0 the next
address); the edge's firewall rules of a site match its interface.

corp's only route is the edge; the edge routes 198.19.0.0/16 and 2001:db8:1::/48 to inet and
nothing else; inet only routes back to corp's and the sites' links. No link leads out of the
lab's namespaces, so no packet can reach a real address (RFC 2544's benchmarking range and
the IPv6 documentation prefix only). Namespace names are unique per run (nc-<pid>-<hex>-corp).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

ROLES = ("corp", "edge", "inet")
CORP_IP, EDGE_CORP_IP = "198.18.0.2", "198.18.0.1"
CORP_IP6, EDGE_CORP_IP6 = "2001:db8:0:1::2", "2001:db8:0:1::1"
EDGE_INET_IP, INET_IP = "198.18.0.5", "198.18.0.6"
EDGE_INET_IP6, INET_IP6 = "2001:db8:0:2::1", "2001:db8:0:2::2"
INTERNET4, INTERNET6 = "198.19.0.0/16", "2001:db8:1::/48"  # what the edge routes to inet
SITES4, SITES6 = "198.18.1.0/24", "2001:db8:0:30::/60"  # the sites' links to the edge
HOSTS4 = ipaddress.ip_network("198.19.1.0/24")  # one address per internet host
HOSTS6 = ipaddress.ip_network("2001:db8:1:1::/64")
DNS4, DNS6 = "198.19.0.53", "2001:db8:1::53"  # the internet's authoritative DNS
PORTAL4, PORTAL6 = "198.19.2.1", "2001:db8:1:2::1"  # the captive portal
UNREACHABLE_DNS = "198.18.255.254"  # no route anywhere: the SERVFAIL zones' "server"
# Routed to inet, where no host has them: connections time out.
DEAD4, DEAD6 = "198.19.3.1", "2001:db8:1:3::1"
# 198.19.255.1 is the wrong NCSI answer of scenarios/ncsi-dns-wrong.toml (no host has it).

# The corporate side's own names, served by the corporate resolver (unbound on the edge).
CORP_DOMAIN = "corp.lab.test"
PROXY_FQDN = f"proxy.{CORP_DOMAIN}"  # squid, and its Kerberos service name HTTP/<fqdn>
KDC_FQDN = f"kdc.{CORP_DOMAIN}"  # the MIT KDC, on the edge like the proxy
PROXY_PORT = 3128
REALM = "CORP.LAB.TEST"
USER = "netcheck"  # the desktop user: the proxy's and the realm's


@dataclass(frozen=True)
class Link:
    """A veth pair from the edge (`edge_if`) to the namespace of role `peer` (`peer_if`): a /30
    and a /64. Both ends are created inside lab namespaces, never in the host's."""

    peer: str
    edge_if: str
    edge4: str
    edge6: str
    peer4: str
    peer6: str
    peer_if: str = "eth0"

    @property
    def networks(self) -> tuple[str, str]:
        return (
            str(ipaddress.ip_interface(f"{self.peer4}/30").network),
            str(ipaddress.ip_interface(f"{self.peer6}/64").network),
        )


@dataclass(frozen=True)
class Site:
    name: str
    index: int  # 1..15
    link: Link

    @property
    def iface(self) -> str:
        """The edge's interface towards the site, which its firewall rules match."""
        return self.link.edge_if

    @property
    def address(self) -> str:
        return self.link.peer4


def site_addresses(i: int) -> tuple[tuple[str, str], tuple[str, str]]:
    """(edge, site) IPv4 and IPv6 addresses of site i's link (1 <= i < 16)."""
    return (f"198.18.1.{4 * i + 1}", f"198.18.1.{4 * i + 2}"), (
        f"2001:db8:0:3{i:x}::1",
        f"2001:db8:0:3{i:x}::2",
    )


CORP_LINK = Link("corp", "corp0", EDGE_CORP_IP, EDGE_CORP_IP6, CORP_IP, CORP_IP6)
INET_LINK = Link("inet", "inet0", EDGE_INET_IP, EDGE_INET_IP6, INET_IP, INET_IP6)


@dataclass(frozen=True)
class Plan:
    id: str
    sites: tuple[Site, ...] = ()

    def ns(self, role: str) -> str:
        return f"{self.id}-{role}"

    @property
    def roles(self) -> list[str]:
        return [*ROLES, *(s.name for s in self.sites)]

    @property
    def inside(self) -> list[Link]:
        """The links from the edge to the corporate networks: corp's and the sites'."""
        return [CORP_LINK, *(s.link for s in self.sites)]

    def site(self, name: str) -> Site:
        return next(s for s in self.sites if s.name == name)

    def veth_commands(self) -> list[list[str]]:
        """`ip` commands creating each veth pair (in the edge, its peer end moved out)."""
        return [
            f"ip -n {self.ns('edge')} link add {k.edge_if} type veth"
            f" peer name {k.peer_if} netns {self.ns(k.peer)}".split()
            for k in (*self.inside, INET_LINK)
        ]

    def batches(self, internet_addresses: Iterable[str]) -> dict[str, list[str]]:
        """Each namespace's `ip -batch` lines: addresses, links up, routes. inet's loopback
        holds every internet address (DNS, portal, one per host)."""
        batch: dict[str, list[str]] = {self.ns(role): [] for role in self.roles}
        edge, inet = batch[self.ns("edge")], batch[self.ns("inet")]
        for k in (*self.inside, INET_LINK):
            for lines, iface, v4, v6 in (
                (edge, k.edge_if, k.edge4, k.edge6),
                (batch[self.ns(k.peer)], k.peer_if, k.peer4, k.peer6),
            ):
                lines += [
                    f"addr add {v4}/30 dev {iface}",
                    f"addr add {v6}/64 dev {iface} nodad",
                    f"link set {iface} up",
                ]
        for k in self.inside:  # corp and the sites: everything goes through the edge
            batch[self.ns(k.peer)] += [
                f"route add default via {k.edge4}",
                f"route add ::/0 via {k.edge6}",
            ]
        edge += [f"route add {INTERNET4} via {INET_IP}", f"route add {INTERNET6} via {INET_IP6}"]
        back = [CORP_LINK.networks, *([(SITES4, SITES6)] if self.sites else [])]
        for net4, net6 in back:  # inet answers corp and the sites, nothing else
            inet += [
                f"route add {net4} via {EDGE_INET_IP}",
                f"route add {net6} via {EDGE_INET_IP6}",
            ]
        for address in (DNS4, DNS6, PORTAL4, PORTAL6, *internet_addresses):
            inet.append(
                f"addr add {address}/128 dev lo nodad"
                if ":" in address
                else f"addr add {address}/32 dev lo"
            )
        return batch


def make(lab_id: str, site_names: Iterable[str] = ()) -> Plan:
    sites = []
    for i, name in enumerate(site_names, start=1):
        (edge4, site4), (edge6, site6) = site_addresses(i)
        sites.append(Site(name, i, Link(name, f"site{i}", edge4, edge6, site4, site6)))
    return Plan(lab_id, tuple(sites))
