"""Branch offices over ssh: each such site runs a real OpenSSH server (host key made at lab
start, root by key only) and the controller in corp reaches it with the lab's ssh_config,
exactly as `pytest --dist each --tx ssh=root@<site>//...` reaches a branch office.

Everything lives in <lab dir>/ssh (keys, known_hosts, ssh_config, one directory per site
with its sshd_config) and <lab dir>/sites/<site> (the site's working directory: xdist copies
pytest into it, so it is never the checkout itself).
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from lab import render
from lab.plan import Plan
from lab.scenario import Scenario
from lab.supervisor import sh

SSHD = "/usr/sbin/sshd"  # by its absolute path: sshd re-executes itself
PRIVSEP = Path("/run/sshd")  # sshd's privilege separation directory (systemd makes it)
# What a site's working directory needs from the checkout to run the suite.
CHECKOUT = ("pytest.ini", "conftest.py", "endpoints.toml", "tests_network")
OTHER_VERSION = "0.0.1"


@dataclass(frozen=True)
class Keys:
    dir: Path  # <lab dir>/ssh

    @classmethod
    def of(cls, lab_dir: Path) -> Keys:
        return cls(lab_dir / "ssh")

    @property
    def config(self) -> Path:
        return self.dir / "ssh_config"

    def site(self, name: str) -> Path:
        return self.dir / name


def provision(keys: Keys, plan: Plan, scenario: Scenario) -> None:
    """The controller's key, a key no site knows it by (for "wrong-key" sites), each ssh
    site's host key, authorized_keys and sshd_config, the known_hosts and ssh_config."""
    keys.dir.mkdir(mode=0o700)
    for key in ("id_ed25519", "stranger"):
        sh(
            "ssh-keygen",
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            f"lab {key}",
            "-f",
            str(keys.dir / key),
        )
    known = []
    for name, rules in scenario.ssh_sites.items():
        site = keys.site(name)
        site.mkdir()
        sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(site / "host_key"))
        authorized = "stranger" if rules["ssh"] == "wrong-key" else "id_ed25519"
        shutil.copy(keys.dir / f"{authorized}.pub", site / "authorized_keys")
        address = plan.site(name).address
        (site / "sshd_config").write_text(render.sshd_config(address, site))
        known.append(f"{address} {(site / 'host_key.pub').read_text()}")
    (keys.dir / "known_hosts").write_text("".join(known))
    keys.config.write_text(render.ssh_config(keys.dir))
    PRIVSEP.mkdir(mode=0o755, exist_ok=True)


def gateway(lab_dir: Path, name: str, address: str) -> str:
    """The site's --tx: root over ssh with the lab's ssh_config (execnet gives it to ssh as
    -F), this Python, the site's working directory."""
    return (
        f"ssh=root@{address}//id={name}//python={sys.executable}"
        f"//chdir={lab_dir / 'sites' / name}//ssh_config={Keys.of(lab_dir).config}"
    )


def workdir(lab_dir: Path, repo: Path, name: str, *, other_version: bool) -> Path:
    """A site's working directory (the gateway's chdir): the checkout's suite files, linked.
    With `other_version`, a copy of netcheck whose version differs shadows the installed
    one there (the worker's working directory comes first on its sys.path), package
    metadata included: a branch office that installed another release."""
    work = lab_dir / "sites" / name
    work.mkdir(parents=True)
    for entry in CHECKOUT:
        (work / entry).symlink_to(repo / entry)
    if other_version:
        shutil.copytree(
            repo / "netcheck", work / "netcheck", ignore=shutil.ignore_patterns("__pycache__")
        )
        with open(work / "netcheck" / "__init__.py", "a") as init:
            init.write(f'__version__ = "{OTHER_VERSION}"  # netcheck lab: another release\n')
        meta = work / f"netcheck-{OTHER_VERSION}.dist-info"
        meta.mkdir()
        (meta / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: netcheck\nVersion: {OTHER_VERSION}\n"
        )
    return work
