"""Certificate revocation lists: Windows downloads them while activating Office."""

import pytest

pytestmark = pytest.mark.crl


def test_crl(crl):
    """The URL serves a parsable X.509 CRL whose nextUpdate has not passed."""
    assert crl.passed, crl.explain()
