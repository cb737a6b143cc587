"""Fixtures for netcheck's own tests; they refuse to run outside an isolated network."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from tests.loopback_lab import Lab, start


def pytest_configure(config: pytest.Config) -> None:
    interfaces = [name for _, name in socket.if_nameindex()]
    if interfaces != ["lo"]:
        raise pytest.UsageError(
            f"netcheck's self-tests start servers that answer for real Microsoft host names; "
            f"they run only in an isolated network namespace (this one has {interfaces}). "
            "Use ./selftest."
        )


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """The loopback fake internet: DNS, origin web servers, faults, proxies."""
    lab = start(tmp_path_factory.mktemp("lab"))
    with lab.stack:
        yield lab
