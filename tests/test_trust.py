"""Matching trust anchors by subject name, SPKI pin or "public": exact, never by substring."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path

import certifi
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from netcheck import trust
from tests.fakenet import TestCA


def test_names_match_exactly_and_pins_match_the_key() -> None:
    contoso, inspection = (
        TestCA(organization_name="Contoso"),
        TestCA(organization_name="Contoso Inspection"),
    )
    name = contoso.certificate.subject.rfc4514_string()
    assert trust.matches(contoso.certificate, name)
    assert not trust.matches(inspection.certificate, name)  # a longer name is another CA
    assert trust.matches(contoso.certificate, trust.spki_pin(contoso.certificate))
    assert not trust.matches(inspection.certificate, trust.spki_pin(contoso.certificate))
    # A CA with its own key never matches another's pin, whatever its name.
    impostor = TestCA(organization_name="Contoso")
    assert not trust.matches(impostor.certificate, trust.spki_pin(contoso.certificate))


def test_the_issuing_root_of_a_leaf_is_found_by_signature() -> None:
    ca, other = TestCA(organization_name="Corp"), TestCA(organization_name="Other")
    leaf = x509.load_pem_x509_certificate(
        ca.issue_cert("*.example.test").cert_chain_pems[0].bytes()
    )
    assert trust.issuing_anchor(leaf, [other.certificate, ca.certificate]) == ca.certificate
    assert trust.issuing_anchor(leaf, [other.certificate]) is None
    assert "O=Corp" in trust.common_name(leaf.issuer)  # no CN: the whole name


def test_store_certificates_lists_what_a_context_trusts() -> None:
    ca = TestCA()
    ctx = ssl.create_default_context(cadata=ca.cert_pem.bytes().decode())
    assert trust.store_certificates(ctx) == [ca.certificate]


@pytest.mark.filterwarnings("ignore::cryptography.utils.CryptographyDeprecationWarning")
def test_public_means_a_root_of_certifis_bundle_by_key() -> None:
    pem = Path(certifi.where()).read_bytes()
    public = x509.load_pem_x509_certificates(pem)[0]
    assert trust.matches(public, "public")
    assert not trust.matches(TestCA().certificate, "public")  # a corporate CA
    # A corporate CA copying a public root's name is still not public: its key differs.
    assert not trust.matches(_with_subject(TestCA(), public.subject), "public")


def _with_subject(ca: TestCA, subject: x509.Name) -> x509.Certificate:
    """A self-signed CA certificate with `subject` and the key of `ca`."""
    key = ca.signing_key
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )


def test_a_chain_reaches_an_expected_root_by_signature_or_by_name_only_if_not_held() -> None:
    """By name alone only for a root this machine holds no copy of (Windows fetches some on
    demand); a CA that copies the name of a root held here must have its signature."""
    root = TestCA(organization_name="Microsoft Root Certificate Authority 2011")
    forged = TestCA(organization_name="Microsoft Root Certificate Authority 2011")
    name = root.certificate.subject.rfc4514_string()
    leaf = x509.load_pem_x509_certificate(root.issue_cert("a.test").cert_chain_pems[0].bytes())
    fake = x509.load_pem_x509_certificate(forged.issue_cert("a.test").cert_chain_pems[0].bytes())
    assert (
        trust.reaches(leaf, [name], [root.certificate])
        == f"issued by {trust.common_name(root.certificate.subject)}"
    )
    assert "by name" in (trust.reaches(leaf, [name], []) or "")  # fetched on demand
    assert trust.reaches(fake, [name], [root.certificate]) is None  # the held root did not sign
