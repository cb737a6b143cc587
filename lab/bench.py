"""A lab for benchmarks: thousands of host names served by a few nginx addresses.

The lab's own namespaces, links, firewall and daemons (lab/topology.py), with other content:
dnsmasq in inet answers every name (one A record each, IPv4 only), nginx in inet serves
every name on every address with one certificate from the lab CA (a wildcard and any other
names given), and the edge's nftables drops every packet to the black-holed addresses, so
their SYNs go unanswered. corp, where the client runs, resolves with the system resolver
pointed straight at dnsmasq and has no IPv6 route: one check per URL, as curl makes.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lab import content, render
from lab.plan import DNS4, DNS6, HOSTS4
from lab.scenario import Scenario
from lab.supervisor import LabError, Supervisor, sh
from lab.topology import NETNS_ETC, Lab, missing_binaries

ORIGINS = [content.Host(f"origin{i}.bench.lab", str(HOSTS4[i]), None) for i in range(1, 5)]
HOLES = [content.Host(f"hole{i}.bench.lab", str(HOSTS4[100 + i]), None) for i in range(1, 3)]
# The kernel queues of inet's listeners: thousands of clients connect at once.
INET_SYSCTLS = ("net.core.somaxconn=16384", "net.ipv4.tcp_max_syn_backlog=16384")


@dataclass
class BenchLab(Lab):
    """`names` maps each host name to whether it is black-holed; `cert_names` are the
    certificate's names (wildcards allowed) besides those."""

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
        if missing := [b for b in missing_binaries() if b in ("ip", "nft", "dnsmasq", "nginx")]:
            raise LabError(f"missing programs: {', '.join(missing)} (see `python -m lab setup`)")
        self.dir = Path(tempfile.mkdtemp(prefix=f"{self.id}-"))
        self.daemons = Supervisor(self.dir, self.save)
        self.save()
        self.dir.chmod(0o755)
        content.pki([content.Host(n, None, None) for n in self.cert_names], self.dir)
        self._network([*ORIGINS, *HOLES])
        (NETNS_ETC / self.corp / "resolv.conf").write_text(
            f"# netcheck bench lab {self.id}: dnsmasq\nnameserver {DNS4}\n"
        )
        sh("ip", "-n", self.corp, "-6", "route", "del", "default")
        for key in INET_SYSCTLS:
            sh("ip", "netns", "exec", self.ns("inet"), "sysctl", "-q", "-w", key)
        records = "\n".join(
            f"host-record={name},{self.address(name, i)}" for i, name in enumerate(self.names)
        )
        self._write(
            "dnsmasq.conf",
            render.template(
                "dnsmasq.conf", listen4=DNS4, listen6=DNS6, dir=self.dir, records=records
            ),
        )
        self._start("dnsmasq", "inet", "dnsmasq -k -C {dir}/dnsmasq.conf --pid-file= --user=root")
        (self.dir / "nginx-tmp").mkdir()
        self._write("nginx.conf", render.template("bench-nginx.conf", dir=self.dir))
        self._start("nginx", "inet", "nginx -c {dir}/nginx.conf -p {dir} -e {dir}/nginx-error.log")
