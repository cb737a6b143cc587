"""The corporate network in a box: three network namespaces, the daemons in them, teardown.

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
nothing else; inet only routes back to corp's link. No link leads out of the three
namespaces, so no packet can reach a real address. Names are unique per run
(nc-<pid>-<random>-corp...), every daemon is stopped by its own pid, and `down` also
kills whatever process is still inside one of the lab's namespaces before deleting it.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from lab import content
from lab.scenario import Scenario
from lab.scenario import load as load_scenario
from netcheck import profile as profiles

TEMPLATES = Path(__file__).parent / "templates"
STATE = Path("/run/netcheck-lab")  # one JSON file per lab that is up
REPO = Path(__file__).resolve().parent.parent
BINARIES = ("ip", "nft", "dnsmasq", "unbound", "nginx", "squid")

CORP_IP, EDGE_CORP_IP = "198.18.0.2", "198.18.0.1"
CORP_IP6, EDGE_CORP_IP6 = "2001:db8:0:1::2", "2001:db8:0:1::1"
EDGE_INET_IP, INET_IP = "198.18.0.5", "198.18.0.6"
EDGE_INET_IP6, INET_IP6 = "2001:db8:0:2::1", "2001:db8:0:2::2"
SITES4, SITES6 = "198.18.1.0/24", "2001:db8:0:30::/60"  # the sites' links to the edge
PROXY_PORT = 3128
PROXY_USER, PROXY_PASSWORD = "netcheck", "lab-secret"
CERTGEN = "/usr/lib/squid/security_file_certgen"  # squid-openssl's certificate forger


class LabError(Exception):
    """The lab could not be set up; the message says which step and shows the daemon's log."""


def site_addresses(i: int) -> tuple[tuple[str, str], tuple[str, str]]:
    """(edge, site) IPv4 and IPv6 addresses of site i's link (1 <= i < 16)."""
    return (f"198.18.1.{4 * i + 1}", f"198.18.1.{4 * i + 2}"), (
        f"2001:db8:0:3{i:x}::1",
        f"2001:db8:0:3{i:x}::2",
    )


def missing_binaries() -> list[str]:
    return [b for b in BINARIES if not shutil.which(b)]


def render(template: str, **values: object) -> str:
    text = (TEMPLATES / template).read_text()
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", str(value))
    if "{{" in text:
        raise LabError(f"{template}: a placeholder was left unfilled")
    return text


def sh(*argv: str, input: str | None = None) -> str:
    proc = subprocess.run(argv, input=input, capture_output=True, text=True, timeout=30)
    if proc.returncode:
        raise LabError(f"{' '.join(argv)} failed: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout


@dataclass
class Lab:
    scenario: Scenario
    id: str = field(default_factory=lambda: f"nc-{os.getpid()}-{secrets.token_hex(2)}")
    dir: Path | None = None
    pids: dict[str, int] = field(default_factory=dict)  # daemon name -> pid
    namespaces: list[str] = field(default_factory=list)
    _procs: dict[str, subprocess.Popen] = field(default_factory=dict, repr=False)

    # --- names and paths ---

    def ns(self, role: str) -> str:
        return f"{self.id}-{role}"

    @property
    def corp(self) -> str:
        return self.ns("corp")

    @property
    def sites(self) -> dict[str, str]:
        """Site name -> its namespace (scenarios with [sites])."""
        return {name: self.ns(name) for name in self.scenario.sites}

    @property
    def ca_bundle(self) -> Path:
        assert self.dir
        return self.dir / "ca.pem"

    @property
    def desktop_ca_bundle(self) -> Path:
        """What the corporate desktops trust: the lab CA, and the corp CA where squid
        inspects TLS (as managed desktops trust their proxy's CA)."""
        assert self.dir
        desktop = self.dir / "desktop-ca.pem"
        return desktop if desktop.exists() else self.ca_bundle

    def proxy_url(self, mode: str) -> str | None:
        if not mode:
            return None
        user = f"{PROXY_USER}:{PROXY_PASSWORD}@" if mode == "credentials" else ""
        return f"http://{user}{EDGE_CORP_IP}:{PROXY_PORT}"

    # --- lifecycle ---

    def __enter__(self) -> Lab:
        self.up()
        return self

    def __exit__(self, *exc: object) -> None:
        self.down()

    def up(self) -> None:
        """Build the namespaces and start the daemons; on failure, tear down what was built."""
        try:
            self._up()
        except BaseException:
            self.down()
            raise

    def _up(self) -> None:
        if missing := missing_binaries():
            raise LabError(f"missing programs: {', '.join(missing)} (see `python -m lab setup`)")
        self.dir = Path(tempfile.mkdtemp(prefix=f"{self.id}-"))
        self.save()
        self.dir.chmod(0o755)  # squid reads its configuration as the proxy user
        profile = profiles.load(REPO / "endpoints.toml")
        hosts = content.hosts(profile)
        ca = content.pki(hosts, self.dir)
        content.web_root(profile, self.scenario, self.dir / "www", ca)
        self._namespaces()
        self._links(hosts)
        self._firewall(hosts)
        self._dns(profile, hosts)
        self._web()
        if self.scenario.get("proxy") or self.scenario.get("proxy_only"):
            self._proxy()

    def down(self) -> None:
        """Stop every daemon by its pid, then anything left in the namespaces; delete all."""
        for name, pid in reversed(list(self.pids.items())):
            self._stop(name, pid)
        for ns in self.namespaces:
            leftovers = subprocess.run(
                ["ip", "netns", "pids", ns], capture_output=True, text=True
            ).stdout.split()
            for pid in leftovers:
                self._kill(int(pid))
            subprocess.run(["ip", "netns", "delete", ns], capture_output=True)
            shutil.rmtree(Path("/etc/netns") / ns, ignore_errors=True)
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
        (STATE / f"{self.id}.json").unlink(missing_ok=True)
        for shared in (Path("/etc/netns"), STATE):  # removed once no lab uses them
            with contextlib.suppress(OSError):  # missing, or another lab still uses it
                shared.rmdir()
        self.pids.clear()
        self.namespaces.clear()

    def leftovers(self) -> list[str]:
        """What of this lab still exists (for the tests): must be empty after down()."""
        found = []
        netns = sh("ip", "netns", "list")
        found += [f"netns {line.split()[0]}" for line in netns.splitlines() if self.id in line]
        if Path("/etc/netns").is_dir():
            found += [
                f"/etc/netns/{p.name}" for p in Path("/etc/netns").iterdir() if self.id in p.name
            ]
        if self.dir and self.dir.exists():
            found.append(str(self.dir))
        found += [f"pid {pid} ({name})" for name, pid in self.pids.items() if _alive(pid)]
        return found

    # --- state, so `python -m lab down` can clean up a lab another process started ---

    def save(self) -> None:
        STATE.mkdir(parents=True, exist_ok=True)
        state = {
            "id": self.id,
            "scenario": str(self.scenario.path),
            "dir": str(self.dir),
            "namespaces": self.namespaces,
            "pids": self.pids,
        }
        (STATE / f"{self.id}.json").write_text(json.dumps(state, indent=1))

    @classmethod
    def from_state(cls, path: Path) -> Lab:
        state = json.loads(path.read_text())
        lab = cls(load_scenario(state["scenario"]), id=state["id"])
        lab.dir, lab.namespaces, lab.pids = Path(state["dir"]), state["namespaces"], state["pids"]
        return lab

    # --- building blocks ---

    def _namespaces(self) -> None:
        for ns in (self.ns("corp"), self.ns("edge"), self.ns("inet"), *self.sites.values()):
            sh("ip", "netns", "add", ns)
            self.namespaces.append(ns)
            self.save()
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        # ip netns exec bind-mounts /etc/netns/<ns>/resolv.conf over /etc/resolv.conf.
        for ns in (self.corp, *self.sites.values()):
            etc = Path("/etc/netns") / ns
            etc.mkdir(parents=True)
            (etc / "resolv.conf").write_text(
                f"# netcheck lab {self.id}: the corporate resolver\nnameserver {EDGE_CORP_IP}\n"
            )

    def _links(self, hosts: list[content.Host]) -> None:
        corp, edge, inet = self.ns("corp"), self.ns("edge"), self.ns("inet")
        # Both ends are created inside lab namespaces: nothing is ever added to the host's.
        sh(*f"ip -n {corp} link add eth0 type veth peer name corp0 netns {edge}".split())
        sh(*f"ip -n {edge} link add inet0 type veth peer name eth0 netns {inet}".split())
        batches = {
            corp: [
                f"addr add {CORP_IP}/30 dev eth0",
                f"addr add {CORP_IP6}/64 dev eth0 nodad",
                "link set eth0 up",
                f"route add default via {EDGE_CORP_IP}",
                f"route add ::/0 via {EDGE_CORP_IP6}",
            ],
            edge: [
                f"addr add {EDGE_CORP_IP}/30 dev corp0",
                f"addr add {EDGE_CORP_IP6}/64 dev corp0 nodad",
                f"addr add {EDGE_INET_IP}/30 dev inet0",
                f"addr add {EDGE_INET_IP6}/64 dev inet0 nodad",
                "link set corp0 up",
                "link set inet0 up",
                f"route add 198.19.0.0/16 via {INET_IP}",
                f"route add 2001:db8:1::/48 via {INET_IP6}",
            ],
            inet: [
                f"addr add {INET_IP}/30 dev eth0",
                f"addr add {INET_IP6}/64 dev eth0 nodad",
                "link set eth0 up",
                f"route add 198.18.0.0/30 via {EDGE_INET_IP}",
                f"route add 2001:db8:0:1::/64 via {EDGE_INET_IP6}",
                f"addr add {content.DNS4}/32 dev lo",
                f"addr add {content.DNS6}/128 dev lo nodad",
                f"addr add {content.PORTAL4}/32 dev lo",
                f"addr add {content.PORTAL6}/128 dev lo nodad",
                *(f"addr add {h.v4}/32 dev lo" for h in hosts if h.v4),
                *(f"addr add {h.v6}/128 dev lo nodad" for h in hosts if h.v6),
            ],
        }
        for i, ns in enumerate(self.sites.values(), start=1):
            site4, site6 = site_addresses(i)
            peer = ("peer", "name", f"site{i}", "netns", edge)
            sh("ip", "-n", ns, "link", "add", "eth0", "type", "veth", *peer)
            batches[ns] = [
                f"addr add {site4[1]}/30 dev eth0",
                f"addr add {site6[1]}/64 dev eth0 nodad",
                "link set eth0 up",
                f"route add default via {site4[0]}",
                f"route add ::/0 via {site6[0]}",
            ]
            batches[edge] += [
                f"addr add {site4[0]}/30 dev site{i}",
                f"addr add {site6[0]}/64 dev site{i} nodad",
                f"link set site{i} up",
            ]
        if self.sites:
            batches[inet] += [
                f"route add {SITES4} via {EDGE_INET_IP}",
                f"route add {SITES6} via {EDGE_INET_IP6}",
            ]
        for ns, commands in batches.items():
            sh("ip", "-n", ns, "-batch", "-", input="\n".join(commands) + "\n")
        for key in ("net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"):
            sh("ip", "netns", "exec", edge, "sysctl", "-q", "-w", key)

    def _firewall(self, hosts: list[content.Host]) -> None:
        by_name = {h.name: h for h in hosts}
        s = self.scenario
        nat, forward = [], []

        def addresses(names: list[str]) -> tuple[str, str]:
            unknown = [n for n in names if n not in by_name]
            if unknown:
                raise LabError(f"scenario {s.name}: unknown hosts {unknown}")
            v4 = ", ".join(by_name[n].v4 for n in names if by_name[n].v4)
            v6 = ", ".join(by_name[n].v6 for n in names if by_name[n].v6)
            return v4, v6

        if s.get("captive_portal"):
            nat.append(f'iifname "corp0" tcp dport 80 dnat ip to {content.PORTAL4}')
            nat.append(f'iifname "corp0" tcp dport 80 dnat ip6 to {content.PORTAL6}')
        if s.get("proxy_only"):
            forward.append('iifname "corp0" counter drop comment "direct egress is blocked"')
        if s.get("ipv6") == "drop":
            forward.append("meta nfproto ipv6 counter drop")
        # The whole network's rules, then each site's own, matched on its interface.
        site_ifs = [f"site{i}" for i in range(1, len(s.sites) + 1)]
        sites = zip(site_ifs, s.sites.values(), strict=True)
        rulesets = [("", s.network), *((f'iifname "{i}" ', r) for i, r in sites)]
        for match, rules in rulesets:
            for verb, action in (("drop", "drop"), ("reject", "reject with tcp reset")):
                if names := rules.get(verb):
                    v4, v6 = addresses(names)
                    proto = "meta l4proto tcp " if verb == "reject" else ""
                    if v4:
                        forward.append(f"{match}ip daddr {{ {v4} }} {proto}counter {action}")
                    if v6:
                        forward.append(f"{match}ip6 daddr {{ {v6} }} {proto}counter {action}")
        inside = ", ".join(f'"{i}"' for i in ["corp0", *site_ifs])
        rules = render(
            "nftables.conf",
            nat="\n".join(f"        {r}" for r in nat),
            forward="\n".join(f"        {r}" for r in forward),
            corp_ifs=f"{{ {inside} }}",
            inet_if="inet0",
        )
        self._write("nftables.conf", rules)
        sh("ip", "netns", "exec", self.ns("edge"), "nft", "-f", str(self.dir / "nftables.conf"))

    def _dns(self, profile: profiles.Profile, hosts: list[content.Host]) -> None:
        records = content.dns_records(profile, self.scenario, hosts)
        self._write(
            "dnsmasq.conf",
            render(
                "dnsmasq.conf",
                listen4=content.DNS4,
                listen6=content.DNS6,
                dir=self.dir,
                records=records,
            ),
        )
        self._start(
            "dnsmasq",
            "inet",
            ["dnsmasq", "-k", "-C", str(self.dir / "dnsmasq.conf"), "--pid-file=", "--user=root"],
            ready=[("udp", f"{content.DNS4}:53")],
        )
        zones = "\n".join(
            f'forward-zone:\n  name: "{name}"\n  forward-addr: {content.UNREACHABLE_DNS}'
            for name in self.scenario.get("servfail")
        )
        self._write(
            "unbound.conf",
            render(
                "unbound.conf",
                listen4=EDGE_CORP_IP,
                listen6=EDGE_CORP_IP6,
                dir=self.dir,
                upstream=content.DNS4,
                servfail_zones=zones,
            ),
        )
        self._start(
            "unbound",
            "edge",
            ["unbound", "-d", "-c", str(self.dir / "unbound.conf")],
            ready=[("udp", f"{EDGE_CORP_IP}:53")],
        )

    def _web(self) -> None:
        (self.dir / "nginx-tmp").mkdir()
        conf = render("nginx.conf", dir=self.dir, portal4=content.PORTAL4, portal6=content.PORTAL6)
        self._write("nginx.conf", conf)
        self._start(
            "nginx",
            "inet",
            [
                "nginx",
                "-c",
                str(self.dir / "nginx.conf"),
                "-p",
                str(self.dir),
                "-e",
                str(self.dir / "nginx-error.log"),
            ],
            ready=[("tcp", "0.0.0.0:443"), ("tcp", "[::]:443")],
        )

    def _proxy(self) -> None:
        logs = self.dir / "squid"
        logs.mkdir()
        shutil.chown(logs, user="proxy")
        auth = ""
        if self.scenario.get("proxy_auth"):
            digest = sh("openssl", "passwd", "-1", PROXY_PASSWORD).strip()
            self._write("squid.passwd", f"{PROXY_USER}:{digest}\n")
            auth = (
                f"auth_param basic program /usr/lib/squid/basic_ncsa_auth {self.dir}/squid.passwd\n"
                'auth_param basic realm "netcheck lab proxy"\n'
                "acl authenticated proxy_auth REQUIRED\n"
                "http_access deny !authenticated"
            )
        deny = ""
        if denied := self.scenario.get("proxy_deny"):
            deny = f"acl denied dstdomain {' '.join(denied)}\nhttp_access deny denied"
        bump_port, bump = self._bump() if self.scenario.get("proxy_bump") else ("", "")
        conf = render(
            "squid.conf",
            listen=f"{EDGE_CORP_IP}:{PROXY_PORT}",
            dns=EDGE_CORP_IP,
            logdir=logs,
            auth=auth,
            deny=deny,
            bump_port=bump_port,
            bump=bump,
        )
        self._write("squid.conf", conf)
        self._start(
            "squid",
            "edge",
            ["squid", "-N", "-f", str(self.dir / "squid.conf")],
            ready=[("tcp", f"{EDGE_CORP_IP}:{PROXY_PORT}")],
            log=logs / "cache.log",
        )

    def _bump(self) -> tuple[str, str]:
        """squid.conf's http_port options and rules for TLS inspection with the corp CA:
        peek at the SNI, splice `proxy_splice` names, bump the rest. Forged certificates
        come from security_file_certgen, whose database lives in the lab's directory."""
        assert self.dir
        content.corp_ca(self.dir)
        shutil.chown(self.dir / "corp-ca.key", user="proxy")
        db = self.dir / "ssl_db"
        sh(CERTGEN, "-c", "-s", str(db), "-M", "4MB")
        for path in (db, *db.rglob("*")):
            shutil.chown(path, user="proxy")
        port = (
            f" ssl-bump tls-cert={self.dir}/corp-ca.pem tls-key={self.dir}/corp-ca.key"
            " generate-host-certificates=on dynamic_cert_mem_cache_size=4MB"
        )
        spliced = self.scenario.get("proxy_splice") or ["splice.invalid"]
        rules = (
            f"sslcrtd_program {CERTGEN} -s {db} -M 4MB\n"
            "sslcrtd_children 2 startup=1 idle=1\n"
            f"tls_outgoing_options cafile={self.ca_bundle}\n"
            "acl step1 at_step SslBump1\n"
            f"acl spliced ssl::server_name {' '.join(spliced)}\n"
            "ssl_bump peek step1\n"
            "ssl_bump splice spliced\n"
            "ssl_bump bump all"
        )
        return port, rules

    # --- processes ---

    def _write(self, name: str, text: str) -> None:
        path = self.dir / name
        path.write_text(text)
        path.chmod(0o644)

    def _start(self, name: str, role: str, argv: list[str], *, ready, log: Path | None = None):
        out = open(self.dir / f"{name}.out", "wb")  # noqa: SIM115 (kept open by the daemon)
        proc = subprocess.Popen(
            ["ip", "netns", "exec", self.ns(role), *argv],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C in the terminal reaches us, and we stop it
        )
        out.close()
        self._procs[name], self.pids[name] = proc, proc.pid
        self.save()
        deadline = time.monotonic() + 15
        while True:
            if proc.poll() is not None:
                raise LabError(f"{name} exited with {proc.returncode}:\n{self._log(name, log)}")
            listening = sh("ip", "netns", "exec", self.ns(role), "ss", "-Hlntu")
            if all(_listens(listening, proto, addr) for proto, addr in ready):
                return
            if time.monotonic() > deadline:
                raise LabError(f"{name} did not listen on {ready}:\n{self._log(name, log)}")
            time.sleep(0.05)

    def _log(self, name: str, extra: Path | None) -> str:
        text = ""
        for path in (self.dir / f"{name}.out", extra):
            if path and path.exists():
                text += path.read_text(errors="replace")[-2000:]
        return text

    def _stop(self, name: str, pid: int) -> None:
        proc = self._procs.pop(name, None)
        if proc is not None:  # our own child: signal it and reap it
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
        elif _in_lab(pid, self.namespaces):  # started by another process (`lab up`)
            self._kill(pid)

    @staticmethod
    def _kill(pid: int) -> None:
        try:
            os.kill(pid, signal.SIGTERM)
            for _ in range(100):
                if not _alive(pid):
                    return
                time.sleep(0.05)
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _listens(ss_output: str, proto: str, address: str) -> bool:
    host, _, port = address.rpartition(":")
    for line in ss_output.splitlines():
        fields = line.split()
        if len(fields) < 5 or fields[0] != proto:
            continue
        local = fields[4]
        lhost, _, lport = local.rpartition(":")
        lhost = lhost.split("%")[0]
        if lport == port and (lhost == host or (lhost in ("*", "0.0.0.0") and host == "0.0.0.0")):
            return True
    return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead for our purposes
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def _in_lab(pid: int, namespaces: list[str]) -> bool:
    """Only a pid still inside one of this lab's namespaces is ours to kill."""
    found = subprocess.run(["ip", "netns", "identify", str(pid)], capture_output=True, text=True)
    return found.stdout.strip() in namespaces
