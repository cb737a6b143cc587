"""What the lab's internet serves: host addresses, DNS records, web content, certificates, CRLs.

Everything is derived from the profile (endpoints.toml), so the lab hosts exactly the names
the suite checks, and from the scenario (what is broken).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from lab.plan import HOSTS4, HOSTS6
from lab.scenario import Scenario
from netcheck import profile as profiles


@dataclass(frozen=True)
class Host:
    name: str
    v4: str | None
    v6: str | None


def hosts(profile: profiles.Profile) -> list[Host]:
    """Every host name the profile reaches, plus the MSOID targets, with its addresses.

    A host used only by IPv6 probes gets an AAAA record alone, like ipv6.msftncsi.com.
    """
    families: dict[str, set[str]] = {}
    for endpoint in profile.endpoints:
        families.setdefault(endpoint.host, set()).add(endpoint.family)
    if profile.msoid:
        for name in (profile.msoid.worldwide, profile.msoid.vianet):
            families.setdefault(name, {"any"})
    return [
        Host(name, None if families[name] == {"ipv6"} else str(HOSTS4[i]), str(HOSTS6[i]))
        for i, name in enumerate(sorted(families), start=1)
    ]


def dns_records(profile: profiles.Profile, scenario: Scenario, hosts: list[Host]) -> str:
    """dnsmasq lines: host records, NCSI DNS answers and MSOID CNAMEs."""
    lines = []
    gone = set(scenario.get("nxdomain"))
    for host in hosts:
        if host.name in gone:
            continue
        addresses = [a for a in (host.v4, host.v6) if a]
        lines.append(f"host-record={host.name},{','.join(addresses)}")
    for name in profile.dns_names:
        a = scenario.get("ncsi_dns_a") or list(name.expect_a)
        lines.append(f"host-record={name.name},{','.join([*a, *name.expect_aaaa])}")
    if profile.msoid:
        targets = {"worldwide": profile.msoid.worldwide, "21vianet": profile.msoid.vianet}
        for domain, which in sorted(scenario.get("msoid").items()):
            if which != "absent":
                lines.append(f"cname=msoid.{domain},{targets[which]}")
    return "\n".join(lines)


def web_root(profile: profiles.Profile, scenario: Scenario, directory: Path, ca: trustme.CA):
    """www/<host>/...: an index page per host, the NCSI texts and the CRLs."""
    stale, invalid = set(scenario.get("stale_crl")), set(scenario.get("invalid_crl"))
    for endpoint in profile.endpoints:
        root = directory / endpoint.host
        root.mkdir(parents=True, exist_ok=True)
        (root / "index.html").write_text(f"<h1>{endpoint.host}</h1><p>netcheck lab</p>\n")
        path = urlsplit(endpoint.url).path
        if not path or path.endswith("/"):
            continue
        file = root / path.lstrip("/")
        file.parent.mkdir(parents=True, exist_ok=True)
        if endpoint.expect_body is not None:
            file.write_text(endpoint.expect_body)  # exactly, without a newline
        elif "crl" in endpoint.checks:
            if endpoint.url in invalid:
                file.write_text("<html><body>Access to this site is blocked</body></html>\n")
            else:
                file.write_bytes(crl(ca, stale=endpoint.url in stale))
    for url in stale | invalid:
        if not any(e.url == url for e in profile.endpoints):
            raise ValueError(f"scenario {scenario.name}: CRL URL {url} is not in the profile")


def crl(ca: trustme.CA, *, stale: bool) -> bytes:
    """A DER CRL signed by the lab CA, current or with a nextUpdate 23 days ago."""
    key = serialization.load_pem_private_key(ca.private_key_pem.bytes(), password=None)
    issuer = x509.load_pem_x509_certificate(ca.cert_pem.bytes())
    now = datetime.now(UTC)
    this_update = now - timedelta(days=30 if stale else 1)
    revoked = (
        x509.RevokedCertificateBuilder()
        .serial_number(0x1AB5)
        .revocation_date(this_update - timedelta(days=2))
        .build()
    )
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.subject)
        .last_update(this_update)
        .next_update(this_update + timedelta(days=7))
        .add_revoked_certificate(revoked)
    )
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def corp_ca(directory: Path) -> None:
    """The corporate TLS-inspection CA for squid's ssl-bump (corp-ca.pem, corp-ca.key), and
    what managed desktops trust: the lab root CA and that CA (desktop-ca.pem)."""
    ca = trustme.CA(organization_name="Contoso", organization_unit_name="corp inspection CA")
    ca.cert_pem.write_to_path(str(directory / "corp-ca.pem"))
    ca.private_key_pem.write_to_path(str(directory / "corp-ca.key"))
    roots = (directory / "ca.pem").read_bytes() + ca.cert_pem.bytes()
    (directory / "desktop-ca.pem").write_bytes(roots)


def pki(hosts: list[Host], directory: Path) -> trustme.CA:
    """The lab root CA (ca.pem, the suite's --ca-bundle) and one server certificate for all."""
    ca = trustme.CA(organization_name="netcheck lab", organization_unit_name="lab root CA")
    ca.cert_pem.write_to_path(str(directory / "ca.pem"))
    server = ca.issue_cert(*(h.name for h in hosts))
    with open(directory / "server.pem", "wb") as chain:
        for pem in server.cert_chain_pems:
            chain.write(pem.bytes())
    server.private_key_pem.write_to_path(str(directory / "server.key"))
    return ca
