"""netcheck: the network checks in tests_network/ run through the netcheck pytest plugin."""

pytest_plugins = ["netcheck.plugin"]
