"""netcheck: the network checks in tests_network/ run through the netcheck pytest plugin,
which `pip install` registers (entry point `netcheck`)."""

from pathlib import Path

import pytest

TESTS = Path(__file__).parent / "tests_network"


def pytest_configure(config: pytest.Config) -> None:
    if not config.pluginmanager.hasplugin("netcheck") and not config.pluginmanager.is_blocked(
        "netcheck"
    ):
        raise pytest.UsageError("the netcheck plugin is not installed: run `pip install -e .`")


def pytest_pycollect_makemodule(module_path: Path, parent: pytest.Collector) -> None:
    """Under `-p no:netcheck` the network checks have no fixtures and no markers: skip them."""
    if parent.config.pluginmanager.is_blocked("netcheck") and module_path.is_relative_to(TESTS):
        pytest.skip("the netcheck plugin is disabled (-p no:netcheck)")
