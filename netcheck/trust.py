"""Trust anchors: which of the local roots a profile expects, and who issued a certificate.

TLS interception is detected by handshaking twice at most: first trusting only the local
roots the profile expects (by subject name, SPKI pin, or "public": the SPKI of a root in
certifi's bundle of the public web PKI); if that chain is untrusted but the
full trust store accepts it, the connection verifies only through a CA the profile does not
expect. Both handshakes verify the chain and the host name: nothing here switches
verification off.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import ssl
import warnings
from collections.abc import Iterable
from pathlib import Path

import certifi
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.utils import CryptographyDeprecationWarning

from netcheck.profile import PIN_PREFIX, PUBLIC_ROOTS


def spki_pin(cert: x509.Certificate) -> str:
    """`sha256//<base64>` of the certificate's SubjectPublicKeyInfo (curl's pin format)."""
    spki = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return PIN_PREFIX + base64.b64encode(hashlib.sha256(spki).digest()).decode()


@functools.cache
def public_pins() -> frozenset[str]:
    """The SPKI pins of the public web PKI's roots, as certifi ships them (Mozilla's list)."""
    with _old_roots_load():
        roots = x509.load_pem_x509_certificates(Path(certifi.where()).read_bytes())
    return frozenset(spki_pin(c) for c in roots)


def _old_roots_load() -> warnings.catch_warnings:
    """Old roots with negative serial numbers still load: silence cryptography's warning."""
    return warnings.catch_warnings(category=CryptographyDeprecationWarning, action="ignore")


def matches(cert: x509.Certificate, spec: str) -> bool:
    """Whether `cert` is the root `spec` names: equal SPKI pin, an equal subject name, or
    ("public") the key of a root in certifi's bundle."""
    if spec == PUBLIC_ROOTS:
        return spki_pin(cert) in public_pins()
    if spec.startswith(PIN_PREFIX):
        return spki_pin(cert) == spec
    return cert.subject == x509.Name.from_rfc4514_string(spec)


def store_certificates(ctx: ssl.SSLContext) -> list[x509.Certificate]:
    """The CA certificates loaded in `ctx` (roots added from a directory lazily are not)."""
    with _old_roots_load():
        return [x509.load_der_x509_certificate(d) for d in ctx.get_ca_certs(binary_form=True)]


def expected(anchors: Iterable[x509.Certificate], specs: Iterable[str]) -> list[x509.Certificate]:
    specs = list(specs)
    return [a for a in anchors if any(matches(a, s) for s in specs)]


def issuing_anchor(
    leaf: x509.Certificate, anchors: Iterable[x509.Certificate]
) -> x509.Certificate | None:
    """The trusted root that signed `leaf` directly, if one did (as most inspecting proxies'
    CAs do); None when an intermediate sits between them."""
    for anchor in anchors:
        if anchor.subject != leaf.issuer:
            continue
        try:
            leaf.verify_directly_issued_by(anchor)
        except Exception:  # InvalidSignature, or a key type that cannot sign this way
            continue
        return anchor
    return None


def common_name(name: x509.Name) -> str:
    """The CN of a name, else its full RFC 4514 form."""
    cns = name.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return str(cns[0].value) if cns else name.rfc4514_string()


def chain_as_sent(tls: ssl.SSLSocket) -> list[x509.Certificate]:
    """The chain the server sent, where Python exposes it publicly (3.13+: DER bytes); else
    [] (3.11 and 3.12 show only the leaf)."""
    get = getattr(tls, "get_unverified_chain", None)
    return [x509.load_der_x509_certificate(der) for der in (get() or [])] if get else []
