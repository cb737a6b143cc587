"""Custom domains: a stray MSOID CNAME to 21Vianet breaks activation for worldwide tenants."""

import pytest

pytestmark = pytest.mark.dns


def test_msoid(msoid):
    """msoid.<domain> is absent or points where this tenant's cloud expects."""
    assert msoid.passed, msoid.explain()
