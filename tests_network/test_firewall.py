"""The firewall allow-list: each URL answers through firewall and proxy."""

import pytest

pytestmark = pytest.mark.firewall


def test_firewall(firewall):
    """DNS, TCP, TLS (trusted, right name) and an HTTP answer from the origin: any status."""
    assert firewall.passed, firewall.explain()
