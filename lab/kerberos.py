"""The corporate Kerberos realm: an MIT KDC on the edge, the proxy's service principal
HTTP/<proxy fqdn> and the desktop user's principal, each with a keytab made at lab start.

Everything (database, stash, keytabs, the user's ticket cache) lives in <lab dir>/krb5; the
keys are random, so there is no password to leak: the user gets its ticket from its keytab.
"""

from __future__ import annotations

import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from lab.plan import EDGE_CORP_IP, PROXY_FQDN, REALM, USER
from lab.supervisor import sh

SERVICE = f"HTTP/{PROXY_FQDN}@{REALM}"


PRINCIPAL = f"{USER}@{REALM}"
KDC_READY = [("udp", f"{EDGE_CORP_IP}:88"), ("tcp", f"{EDGE_CORP_IP}:88")]


@dataclass(frozen=True)
class Realm:
    dir: Path  # <lab dir>/krb5, where krb5.conf and kdc.conf are written first

    @classmethod
    def of(cls, lab_dir: Path) -> Realm:
        return cls(lab_dir / "krb5")

    @property
    def conf(self) -> Path:
        return self.dir / "krb5.conf"

    @property
    def kdc_conf(self) -> Path:
        return self.dir / "kdc.conf"

    @property
    def proxy_keytab(self) -> Path:
        return self.dir / "proxy.keytab"

    @property
    def user_keytab(self) -> Path:
        return self.dir / "user.keytab"

    @property
    def client_env(self) -> dict[str, str]:
        """What a desktop process needs to authenticate: the realm and the ticket cache."""
        return {"KRB5_CONFIG": str(self.conf), "KRB5CCNAME": f"FILE:{self.dir}/ccache"}

    @property
    def server_env(self) -> dict[str, str]:
        """The KDC's and squid's: the realm, the KDC profile, no replay cache on disk."""
        return {
            "KRB5_CONFIG": str(self.conf),
            "KRB5_KDC_PROFILE": str(self.kdc_conf),
            "KRB5RCACHETYPE": "none",
        }


def provision(realm: Realm) -> None:
    """The realm's database and principals, the proxy's keytab (readable by squid only) and
    the user's keytab."""
    (realm.dir / "kadm5.acl").write_text("")
    env = {**os.environ, **realm.server_env}
    master = secrets.token_urlsafe(16)  # kept in the stash file only
    sh("kdb5_util", "create", "-s", "-r", REALM, "-P", master, env=env)
    for query in (
        f"addprinc -randkey {SERVICE}",
        f"ktadd -k {realm.proxy_keytab} {SERVICE}",
        f"addprinc -randkey {PRINCIPAL}",
        f"ktadd -k {realm.user_keytab} {PRINCIPAL}",
    ):
        sh("kadmin.local", "-r", REALM, "-q", query, env=env)
    shutil.chown(realm.proxy_keytab, user="proxy")
    for keytab in (realm.proxy_keytab, realm.user_keytab):
        keytab.chmod(0o600)


def kinit(realm: Realm, ns: str) -> None:
    """The user's ticket, obtained in namespace `ns` (a desktop's) from the KDC on the edge."""
    env = {**os.environ, **realm.client_env}
    sh("ip", "netns", "exec", ns, "kinit", "-k", "-t", str(realm.user_keytab), PRINCIPAL, env=env)
