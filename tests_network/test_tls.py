"""TLS 1.2: Microsoft 365 Apps activate over TLS 1.2, so each HTTPS endpoint must offer it."""

import pytest

pytestmark = pytest.mark.tls


def test_tls12(tls):
    """A handshake capped at TLS 1.2 succeeds; the report shows the version and cipher."""
    assert tls.passed, tls.explain()
