"""The corporate network in a box: builds the addressing plan (lab/plan.py) out of network
namespaces and veth pairs, writes the daemons' configurations (lab/render.py), starts them
(lab/supervisor.py), and tears everything down.

Names are unique per run (nc-<pid>-<random>-corp...), every daemon is stopped by its own pid,
and `down` also kills whatever process is still inside one of the lab's namespaces before
deleting it. A JSON state file per lab (/run/netcheck-lab/<id>.json) lets another process
(`python -m lab down`) tear it down.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from lab import content, kerberos, render, ssh
from lab.kerberos import Realm
from lab.plan import DNS4, EDGE_CORP_IP, PROXY_FQDN, PROXY_PORT, USER, Plan
from lab.plan import make as make_plan
from lab.scenario import Scenario, ScenarioError
from lab.scenario import load as load_scenario
from lab.supervisor import LabError, Supervisor, kill, sh
from netcheck import profile as profiles

STATE = Path(os.environ.get("NETCHECK_LAB_STATE", "/run/netcheck-lab"))  # a file per lab up
NETNS_ETC = Path("/etc/netns")  # ip netns exec bind-mounts /etc/netns/<ns>/FILE over /etc/FILE
REPO = Path(__file__).resolve().parent.parent
BINARIES = (
    *("ip", "nft", "dnsmasq", "unbound", "nginx", "squid"),
    *("krb5kdc", "kdb5_util", "kadmin.local", "kinit"),
    *("sshd", "ssh", "ssh-keygen"),
)
# Where each daemon must listen before the lab goes on.
READY = {
    "dnsmasq": [("udp", f"{DNS4}:53")],
    "unbound": [("udp", f"{EDGE_CORP_IP}:53")],
    "nginx": [("tcp", "0.0.0.0:443"), ("tcp", "[::]:443")],
    "squid": [("tcp", f"{EDGE_CORP_IP}:{PROXY_PORT}")],
    "krb5kdc": kerberos.KDC_READY,
}


def missing_binaries() -> list[str]:
    return [b for b in BINARIES if not shutil.which(b)]


def shared_dir(path: Path) -> Path:
    """mkdir -p a directory that labs share (and remove once empty): another lab's teardown
    may remove a parent between our mkdir and our use, so try again."""
    for _ in range(10):
        try:
            path.mkdir(parents=True, exist_ok=True)
            return path
        except FileNotFoundError:
            continue
    raise LabError(f"cannot create {path}")


@dataclass
class Lab:
    scenario: Scenario
    id: str = field(default_factory=lambda: f"nc-{os.getpid()}-{secrets.token_hex(3)}")
    dir: Path | None = None
    namespaces: list[str] = field(default_factory=list)
    daemons: Supervisor | None = field(default=None, repr=False)

    @property
    def plan(self) -> Plan:
        return make_plan(self.id, self.scenario.sites)

    # --- names and paths ---

    def ns(self, role: str) -> str:
        return self.plan.ns(role)

    @property
    def corp(self) -> str:
        return self.ns("corp")

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

    @property
    def password(self) -> str:
        """The desktop user's password for the proxy: made at lab start, kept in its dir."""
        assert self.dir
        return (self.dir / "secrets" / "password").read_text()

    def proxy_url(self, mode: str) -> str | None:
        """--proxy for a run's proxy mode: none for a direct run, the user's credentials in
        it for "credentials", none in it otherwise (Kerberos: the ticket is in client_env)."""
        if not mode:
            return None
        user = f"{USER}:{self.password}@" if mode == "credentials" else ""
        return f"http://{user}{PROXY_FQDN}:{PROXY_PORT}"

    def client_env(self, mode: str) -> dict[str, str]:
        """What a desktop process's environment needs for a run's proxy mode."""
        return Realm.of(self.dir).client_env if mode == "kerberos" and self.dir else {}

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
        self.daemons = Supervisor(self.dir, self.save)
        self.save()
        self.dir.chmod(0o755)  # squid reads its configuration as the proxy user
        (self.dir / "secrets").mkdir(mode=0o700)
        (self.dir / "secrets" / "password").write_text(secrets.token_urlsafe(12))
        profile = profiles.load(REPO / "endpoints.toml")
        hosts = content.hosts(profile)
        ca = content.pki(hosts, self.dir)
        content.web_root(profile, self.scenario, self.dir / "www", ca)
        self._network(hosts)
        self._write("dnsmasq.conf", render.dnsmasq(profile, self.scenario, hosts, self.dir))
        self._start("dnsmasq", "inet", "dnsmasq -k -C {dir}/dnsmasq.conf --pid-file= --user=root")
        self._write("unbound.conf", render.unbound(self.scenario, self.dir))
        self._start("unbound", "edge", "unbound -d -c {dir}/unbound.conf")
        (self.dir / "nginx-tmp").mkdir()
        self._write("nginx.conf", render.nginx(self.dir))
        self._start("nginx", "inet", "nginx -c {dir}/nginx.conf -p {dir} -e {dir}/nginx-error.log")
        if self.scenario.get("proxy") or self.scenario.get("proxy_only"):
            self._proxy()
        if self.scenario.ssh_sites:
            self._sshd()

    def down(self) -> None:
        """Stop every daemon by its pid, then anything left in the namespaces; delete all."""
        if self.daemons:
            self.daemons.stop_all(self.namespaces)
        for ns in self.namespaces:
            leftovers = subprocess.run(
                ["ip", "netns", "pids", ns], capture_output=True, text=True
            ).stdout.split()
            for pid in leftovers:
                kill(int(pid))
            subprocess.run(["ip", "netns", "delete", ns], capture_output=True)
            shutil.rmtree(NETNS_ETC / ns, ignore_errors=True)
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
        (STATE / f"{self.id}.json").unlink(missing_ok=True)
        for shared in (NETNS_ETC, STATE):  # removed once no lab uses them
            with contextlib.suppress(OSError):  # missing, or another lab still uses it
                shared.rmdir()
        self.namespaces.clear()

    def leftovers(self) -> list[str]:
        """What of this lab still exists (for the tests): must be empty after down()."""
        found = []
        netns = sh("ip", "netns", "list")
        found += [f"netns {line.split()[0]}" for line in netns.splitlines() if self.id in line]
        if NETNS_ETC.is_dir():
            found += [f"{NETNS_ETC}/{p.name}" for p in NETNS_ETC.iterdir() if self.id in p.name]
        if self.dir and self.dir.exists():
            found.append(str(self.dir))
        return found + (self.daemons.alive() if self.daemons else [])

    # --- state, so `python -m lab down` can clean up a lab another process started ---

    def save(self) -> None:
        state = {
            "id": self.id,
            "checkout": str(REPO),  # `lab down` without ids tears down its own checkout's
            "scenario": str(self.scenario.path),
            "dir": str(self.dir),
            "namespaces": self.namespaces,
            "pids": self.daemons.pids if self.daemons else {},
        }
        (shared_dir(STATE) / f"{self.id}.json").write_text(json.dumps(state, indent=1))

    @classmethod
    def from_state(cls, path: Path) -> Lab:
        state = json.loads(path.read_text())
        try:
            scenario = load_scenario(state["scenario"])
        except ScenarioError:  # its file is gone: tearing down does not need it
            scenario = Scenario(Path(state["scenario"]).stem, Path(state["scenario"]), "")
        lab = cls(scenario, id=state["id"])
        lab.dir, lab.namespaces = Path(state["dir"]), state["namespaces"]
        lab.daemons = Supervisor(lab.dir)
        lab.daemons.pids = state["pids"]
        return lab

    # --- building blocks ---

    def _network(self, hosts: list[content.Host]) -> None:
        """Namespaces, veth pairs, addresses and routes as planned; the edge forwards, under
        the scenario's firewall; corp and the sites resolve with the corporate resolver."""
        p = self.plan
        for role in p.roles:
            ns = p.ns(role)
            sh("ip", "netns", "add", ns)
            self.namespaces.append(ns)
            self.save()
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        for role in ["corp", *self.scenario.sites]:  # the desktops' resolver configuration
            etc = shared_dir(NETNS_ETC / p.ns(role))
            (etc / "resolv.conf").write_text(render.resolv_conf(self.id))
            pins = self.scenario.hosts if role == "corp" else {}
            (etc / "hosts").write_text(render.hosts_file(self.id, pins))
        for command in p.veth_commands():
            sh(*command)
        addresses = [a for h in hosts for a in (h.v4, h.v6) if a]
        for ns, lines in p.batches(addresses).items():
            sh("ip", "-n", ns, "-batch", "-", input="\n".join(lines) + "\n")
        for key in ("net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"):
            sh("ip", "netns", "exec", p.ns("edge"), "sysctl", "-q", "-w", key)
        self._write("nftables.conf", render.nftables(self.scenario, p, hosts))
        sh("ip", "netns", "exec", p.ns("edge"), "nft", "-f", f"{self.dir}/nftables.conf")

    def _proxy(self) -> None:
        assert self.dir
        logs = self.dir / "squid"
        logs.mkdir()
        shutil.chown(logs, user="proxy")
        auth = self.scenario.get("proxy_auth")
        if auth == "basic":
            digest = sh("openssl", "passwd", "-1", "-stdin", input=self.password).strip()
            self._write("squid.passwd", f"{USER}:{digest}\n")
        if auth == "negotiate":
            self._kdc()
        if self.scenario.get("proxy_bump"):
            content.corp_ca(self.dir)
            shutil.chown(self.dir / "corp-ca.key", user="proxy")
            db = self.dir / "ssl_db"
            sh(render.CERTGEN, "-c", "-s", str(db), "-M", "4MB")
            for path in (db, *db.rglob("*")):
                shutil.chown(path, user="proxy")
        self._write("squid.conf", render.squid(self.scenario, self.dir))
        env = Realm.of(self.dir).server_env if auth == "negotiate" else None
        self._start(
            "squid", "edge", "squid -N -f {dir}/squid.conf", log=logs / "cache.log", env=env
        )

    def _kdc(self) -> None:
        """The corporate realm's KDC on the edge, and the desktop user's ticket in corp."""
        assert self.dir
        realm = Realm.of(self.dir)
        realm.dir.mkdir(mode=0o755)
        realm.conf.write_text(render.krb5_conf())
        realm.kdc_conf.write_text(render.kdc_conf(realm.dir))
        kerberos.provision(realm)
        self._start(
            "krb5kdc", "edge", "krb5kdc -n", log=realm.dir / "krb5kdc.log", env=realm.server_env
        )
        kerberos.kinit(realm, self.corp)

    def _sshd(self) -> None:
        """Each ssh site's OpenSSH server (none where it is "down") and working directory."""
        assert self.dir
        keys = ssh.Keys.of(self.dir)
        ssh.provision(keys, self.plan, self.scenario)
        for name, rules in self.scenario.ssh_sites.items():
            other = rules.get("netcheck") == "other-version"
            ssh.workdir(self.dir, REPO, name, other_version=other)
            if rules["ssh"] != "down":
                config = keys.site(name) / "sshd_config"
                ready = [("tcp", f"{self.plan.site(name).address}:22")]
                self._start(f"sshd-{name}", name, f"{ssh.SSHD} -D -e -f {config}", ready=ready)

    # --- daemons ---

    def _start(
        self,
        name: str,
        role: str,
        command: str,
        log: Path | None = None,
        env: dict[str, str] | None = None,
        ready: list[tuple[str, str]] | None = None,
    ) -> None:
        """Start a daemon (`command`, {dir} is the lab's directory) in a role's namespace;
        it is ready when it listens where READY says (or `ready`)."""
        assert self.daemons
        argv = command.format(dir=self.dir).split()
        ready = ready or READY[name]
        self.daemons.start(name, self.ns(role), argv, ready=ready, log=log, env=env)

    def _write(self, name: str, text: str) -> None:
        assert self.dir
        path = self.dir / name
        path.write_text(text)
        path.chmod(0o644)
