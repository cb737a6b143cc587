"""A lab for benchmarks: thousands of host names served by a few nginx addresses.

The lab's own namespaces, links, firewall and daemons (lab/topology.py), with other content:
dnsmasq in inet answers every name (one A record each, IPv4 only), nginx in inet serves
every name on every address with certificates from the lab CA (one for *.bench.test, one
for the other names), and the edge's nftables drops every packet to the black-holed
addresses, so their SYNs go unanswered. corp, where the client runs, has no IPv6 route
(one check per URL, as curl makes) and resolves with the system resolver, the corporate
resolver on the edge.

That resolver is unbound, caching what dnsmasq answers, with a receive buffer for bursts:
dnsmasq has no option for its own, net.core.rmem_default cannot be raised in a namespace,
and its default 208 KiB overflow when a few hundred lookups arrive at once (a dropped query
is retried by glibc only after 5 s: a healthy host would fail, the lab's fault). The cache is
filled before any measurement (`warm`).
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lab import content, render
from lab.plan import DNS4, DNS6, EDGE_CORP_IP, HOSTS4
from lab.scenario import Scenario
from lab.supervisor import LabError, Supervisor, sh
from lab.topology import Lab, missing_binaries

WILDCARD = "bench.test"  # names under it get a certificate of their own, for *.bench.test
ORIGINS = [content.Host(f"origin{i}.bench.lab", str(HOSTS4[i]), None) for i in range(1, 5)]
HOLES = [content.Host(f"hole{i}.bench.lab", str(HOSTS4[100 + i]), None) for i in range(1, 3)]
# The kernel queues of inet's listeners: thousands of clients connect at once.
INET_SYSCTLS = ("net.core.somaxconn=16384", "net.ipv4.tcp_max_syn_backlog=16384")


@dataclass
class BenchLab(Lab):
    """`names` maps each host name to whether it is black-holed. Names under WILDCARD get
    a certificate for *.WILDCARD; all others one for `cert_names` (wildcards allowed), as
    Microsoft's own certificates carry many names."""

    names: Mapping[str, bool] = field(default_factory=dict)
    cert_names: Sequence[str] = ()
    scenario: Scenario = field(
        default_factory=lambda: Scenario(
            "bench", Path("bench"), "benchmark", {"drop": [h.name for h in HOLES]}
        )
    )

    def address(self, name: str, i: int) -> str:
        """The address of the i-th name: an origin, or a hole if it is black-holed."""
        pool = HOLES if self.names[name] else ORIGINS
        return str(pool[i % len(pool)].v4)

    def _up(self) -> None:
        needed = ("ip", "nft", "dnsmasq", "unbound", "nginx")
        if missing := [b for b in missing_binaries() if b in needed]:
            raise LabError(f"missing programs: {', '.join(missing)} (see `python -m lab setup`)")
        self.dir = Path(tempfile.mkdtemp(prefix=f"{self.id}-"))
        self.daemons = Supervisor(self.dir, self.save)
        self.save()
        self.dir.chmod(0o755)
        others = self.cert_names or [ORIGINS[0].name]  # the default server's certificate
        ca = content.pki([content.Host(n, None, None) for n in others], self.dir)
        wildcard = ca.issue_cert(f"*.{WILDCARD}")  # the sized runs' short certificate
        wildcard.private_key_and_cert_chain_pem.write_to_path(str(self.dir / "wildcard.pem"))
        self._network([*ORIGINS, *HOLES])
        sh("ip", "-n", self.corp, "-6", "route", "del", "default")
        for key in INET_SYSCTLS:
            sh("ip", "netns", "exec", self.ns("inet"), "sysctl", "-q", "-w", key)
        records = "\n".join(
            ["local-ttl=86400", "neg-ttl=86400"]  # cached by unbound for the whole run
            + [f"host-record={name},{self.address(name, i)}" for i, name in enumerate(self.names)]
        )
        self._write(
            "dnsmasq.conf",
            render.template(
                "dnsmasq.conf", listen4=DNS4, listen6=DNS6, dir=self.dir, records=records
            ),
        )
        self._start("dnsmasq", "inet", "dnsmasq -k -C {dir}/dnsmasq.conf --pid-file= --user=root")
        unbound = render.template(
            "bench-unbound.conf", listen4=EDGE_CORP_IP, dir=self.dir, upstream=DNS4
        )
        self._write("unbound.conf", unbound)
        self._start("unbound", "edge", "unbound -d -c {dir}/unbound.conf")
        (self.dir / "nginx-tmp").mkdir()
        nginx = render.template("bench-nginx.conf", dir=self.dir, wildcard=WILDCARD)
        self._write("nginx.conf", nginx)
        self._start("nginx", "inet", "nginx -c {dir}/nginx.conf -p {dir} -e {dir}/nginx-error.log")

    def warm(self, chunk: int = 500) -> None:
        """Resolve every name once from corp (IPv4 and IPv6), as the clients will: the
        resolver's cache holds them all before anything is measured."""
        names = list(self.names)
        for i in range(0, len(names), chunk):
            sh("ip", "netns", "exec", self.corp, "getent", "ahosts", *names[i : i + chunk])
