"""netcheck: the network checks in tests_network/ run through the netcheck pytest plugin,
which `pip install` registers (entry point `netcheck`)."""

import pytest


def pytest_configure(config: pytest.Config) -> None:
    if not config.pluginmanager.hasplugin("netcheck") and not config.pluginmanager.is_blocked(
        "netcheck"
    ):
        raise pytest.UsageError("the netcheck plugin is not installed: run `pip install -e .`")
