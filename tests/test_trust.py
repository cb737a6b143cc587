"""Matching trust anchors by subject name and SPKI pin: exact, never by substring."""

from __future__ import annotations

import ssl

from cryptography import x509

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
