"""Windows NCSI: the probes Windows uses to decide it is online."""

import pytest

pytestmark = pytest.mark.ncsi


def test_ncsi_web(ncsi_web):
    """HTTP 200 with exactly the expected text: no redirect, no rewritten body."""
    assert ncsi_web.passed, ncsi_web.explain()


def test_ncsi_dns(ncsi_dns):
    """dns.msftncsi.com resolves to exactly the published addresses."""
    assert ncsi_dns.passed, ncsi_dns.explain()
