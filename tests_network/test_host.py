"""This Windows machine's settings that the activation checklist names (skipped elsewhere)."""

import pytest

pytestmark = pytest.mark.host


def test_host(host):
    """The setting is as activation needs it; the report shows what was read."""
    assert host.passed, host.explain()
