"""Fixtures for netcheck's own tests; they refuse to run outside an isolated network."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator

import pytest

from tests.loopback_lab import LOCAL_NETWORK, ORIGIN6, Lab, start

LOCAL_V4 = ["ip", "route", "replace", "local", LOCAL_NETWORK, "dev", "lo"]
LOCAL_V6 = ["ip", "-6", "addr", "replace", f"{ORIGIN6}/128", "dev", "lo", "nodad"]


def pytest_configure(config: pytest.Config) -> None:
    interfaces = [name for _, name in socket.if_nameindex()]
    if interfaces != ["lo"]:
        raise pytest.UsageError(
            f"netcheck's self-tests start servers that answer for real Microsoft host names; "
            f"they run only in an isolated network namespace (this one has {interfaces}). "
            "Use ./selftest."
        )
    # The fake internet's servers answer on documentation and benchmark addresses local to
    # this namespace (127.0.0.0/8 and ::1 are what DNS filters answer for blocked names).
    for command in (LOCAL_V4, LOCAL_V6):
        subprocess.run(command, capture_output=True, check=False)


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """The loopback fake internet: DNS, origin web servers, faults, proxies."""
    lab = start(tmp_path_factory.mktemp("lab"))
    with lab.stack:
        yield lab
