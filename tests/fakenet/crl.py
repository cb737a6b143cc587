"""Certificate revocation lists signed by a test CA."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from .tls import ca_certificate, ca_signing_key


def make_crl(
    ca: trustme.CA,
    *,
    next_update: dt.datetime,
    last_update: dt.datetime,
    revoked: int | Iterable[int] = 0,
    pem: bool = False,
) -> bytes:
    """A CRL issued by *ca* (DER, or PEM if *pem*).

    *revoked* is either a count of random serials or the serial numbers to revoke.
    """
    ca_cert = ca_certificate(ca)
    serials = (
        [x509.random_serial_number() for _ in range(revoked)]
        if isinstance(revoked, int)
        else list(revoked)
    )
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_cert.subject)
        .last_update(last_update)
        .next_update(next_update)
        .add_extension(x509.CRLNumber(1), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()), critical=False
        )
    )  # type: ignore[arg-type]
    for serial in serials:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(last_update)
            .build()
        )
    crl = builder.sign(ca_signing_key(ca), hashes.SHA256())
    encoding = serialization.Encoding.PEM if pem else serialization.Encoding.DER
    return crl.public_bytes(encoding)
