"""Test certificate authority (trustme) and TLS context helpers.

TLS versions with the OpenSSL here (3.0): servers pinned to TLS 1.3 only, or to TLS 1.0/1.1
only, both work. Below TLS 1.2 OpenSSL 3 needs ``@SECLEVEL=0``, which
:meth:`TestCA.server_context` sets automatically. A default client (min TLS 1.2) then fails
with ``ssl.SSLError`` reason ``TLSV1_ALERT_PROTOCOL_VERSION``; a client that also sets
``@SECLEVEL=0`` and ``minimum_version=TLSv1`` negotiates TLSv1/TLSv1.1. A client capped at
TLS 1.2 against a TLS 1.3-only server gets ``TLSV1_ALERT_PROTOCOL_VERSION`` too.
"""

from __future__ import annotations

import datetime as dt
import ssl
import warnings
from pathlib import Path

import trustme
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.hazmat.primitives.serialization import load_pem_private_key


def ca_certificate(ca: trustme.CA) -> x509.Certificate:
    """The certificate of a trustme CA as a cryptography object."""
    return x509.load_pem_x509_certificate(ca.cert_pem.bytes())


def ca_signing_key(ca: trustme.CA) -> CertificateIssuerPrivateKeyTypes:
    """The private key of a trustme CA as a cryptography object (e.g. to sign CRLs)."""
    return load_pem_private_key(ca.private_key_pem.bytes(), password=None)  # type: ignore[return-value]


class TestCA(trustme.CA):
    """A ``trustme.CA`` with helpers for broken certificates and server/client contexts."""

    __test__ = False  # not a pytest test class

    @property
    def certificate(self) -> x509.Certificate:
        return ca_certificate(self)

    @property
    def signing_key(self) -> CertificateIssuerPrivateKeyTypes:
        return ca_signing_key(self)

    def write_pem(self, path: str | Path) -> Path:
        """Write the CA certificate (PEM) to *path*, e.g. for ``--ca-bundle``."""
        self.cert_pem.write_to_path(str(path))
        return Path(path)

    def expired_cert(self, *names: str, days_ago: int = 1) -> trustme.LeafCert:
        """A leaf for *names* that expired *days_ago* days ago."""
        now = dt.datetime.now(dt.UTC)
        return self.issue_cert(
            *names,
            not_before=now - dt.timedelta(days=days_ago + 90),
            not_after=now - dt.timedelta(days=days_ago),
        )

    def wrong_host_cert(self, name: str = "wrong-host.invalid") -> trustme.LeafCert:
        """A valid leaf for some other host name."""
        return self.issue_cert(name)

    def server_context(
        self,
        *names: str,
        cert: trustme.LeafCert | None = None,
        minimum_version: ssl.TLSVersion | None = None,
        maximum_version: ssl.TLSVersion | None = None,
    ) -> ssl.SSLContext:
        """Server context presenting *cert* (or a fresh leaf for *names*).

        Versions below TLS 1.2 lower the security level so OpenSSL 3 accepts them.
        """
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        (cert or self.issue_cert(*names)).configure_cert(ctx)
        if maximum_version is not None and minimum_version is None:
            minimum_version = min(maximum_version, ctx.minimum_version)
        legacy = minimum_version is not None and minimum_version < ssl.TLSVersion.TLSv1_2
        if legacy:
            ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        with warnings.catch_warnings():  # TLSv1/TLSv1_1 are deprecated in Python
            warnings.simplefilter("ignore", DeprecationWarning)
            if minimum_version is not None:
                ctx.minimum_version = minimum_version
            if maximum_version is not None:
                ctx.maximum_version = maximum_version
        return ctx

    def client_context(self) -> ssl.SSLContext:
        """Default client context (hostname checks on) trusting only this CA."""
        ctx = ssl.create_default_context()
        ctx.load_verify_locations(cadata=self.cert_pem.bytes().decode())
        return ctx
