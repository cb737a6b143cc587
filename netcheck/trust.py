"""Trust anchors: whether a verified chain reaches a root the profile expects.

TLS interception is read off the chain a server sent, once the OS has verified it: the path
from the leaf up through the certificates sent (each link's signature checked) must end at,
or be issued by, a root the profile expects (by subject name, SPKI pin, or "public": a root
of certifi's bundle of the public web PKI). A chain that verifies only through another CA
trusted on this machine is TLS inspection. Nothing here switches verification off: the
handshake already verified chain and host name the way the OS does.
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
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.utils import CryptographyDeprecationWarning

from netcheck.profile import PIN_PREFIX, PUBLIC_ROOTS


def spki_pin(cert: x509.Certificate) -> str:
    """`sha256//<base64>` of the certificate's SubjectPublicKeyInfo (curl's pin format)."""
    spki = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return PIN_PREFIX + base64.b64encode(hashlib.sha256(spki).digest()).decode()


@functools.cache
def public_roots() -> tuple[x509.Certificate, ...]:
    """The roots of the public web PKI, as certifi ships them (Mozilla's list)."""
    with _old_roots_load():
        return tuple(x509.load_pem_x509_certificates(Path(certifi.where()).read_bytes()))


@functools.cache
def public_pins() -> frozenset[str]:
    return frozenset(spki_pin(c) for c in public_roots())


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


def signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except Exception:  # InvalidSignature, or a key type that cannot sign this way
        return False
    return True


def chain_top(leaf: x509.Certificate, sent: Iterable[x509.Certificate]) -> x509.Certificate:
    """The last certificate of the path from `leaf` up through the certificates the server
    sent (in any order, extras ignored), each link's signature checked."""
    sent, top, seen = list(sent), leaf, {leaf.fingerprint(hashes.SHA256())}
    while top.issuer != top.subject:
        parent = next((c for c in sent if signed_by(top, c)), None)
        if parent is None or parent.fingerprint(hashes.SHA256()) in seen:
            break
        seen.add(parent.fingerprint(hashes.SHA256()))
        top = parent
    return top


def reaches(
    top: x509.Certificate, specs: Iterable[str], anchors: Iterable[x509.Certificate]
) -> str | None:
    """How the chain's top certificate reaches an expected root, or None if it does not:
    it is one, a known root that matches signed it, or (a root this machine fetches on
    demand, so no copy is listed) its issuer bears an expected subject name."""
    specs, anchors = list(specs), list(anchors)
    if any(matches(top, s) for s in specs):
        return f"ends at {common_name(top.subject)}"
    for anchor in (*anchors, *public_roots()):
        if signed_by(top, anchor) and any(matches(anchor, s) for s in specs):
            return f"issued by {common_name(anchor.subject)}"
    # A root this machine fetches on demand: only its name can be compared, and only where no
    # root of that name is held here (one that is held must have signed: checked above).
    names = [s for s in specs if s != PUBLIC_ROOTS and not s.startswith(PIN_PREFIX)]
    held = any(a.subject == top.issuer for a in (*anchors, *public_roots()))
    if not held and any(x509.Name.from_rfc4514_string(s) == top.issuer for s in names):
        return f"issued by {common_name(top.issuer)} (by name: this machine holds no copy)"
    return None


def issuing_anchor(
    leaf: x509.Certificate, anchors: Iterable[x509.Certificate]
) -> x509.Certificate | None:
    """The trusted root that signed `leaf` directly, if one did (as most inspecting proxies'
    CAs do); None when an intermediate sits between them."""
    return next((a for a in anchors if signed_by(leaf, a)), None)


def common_name(name: x509.Name) -> str:
    """The CN of a name, else its full RFC 4514 form."""
    cns = name.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return str(cns[0].value) if cns else name.rfc4514_string()
