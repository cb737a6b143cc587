"""--proxy values the proxy parser must refuse or read whole: a port 0 is no port, and a
password holding "/" must not be cut in two (`http://alice:1234/5@proxy:3128` once became the
proxy alice:1234, its password shown as the port in every report)."""

from __future__ import annotations

import pytest

from netcheck.net import Proxy


def test_port_0_is_refused() -> None:
    with pytest.raises(ValueError, match="port"):
        Proxy.parse("http://proxy.example:0")


@pytest.mark.parametrize("password", ["se/cret", "1234/5"])
def test_a_password_holding_a_slash_is_read_whole(password: str) -> None:
    proxy = Proxy.parse(f"http://alice:{password}@proxy.example:3128")
    assert (proxy.host, proxy.port, proxy.username, proxy.password) == (
        "proxy.example",
        3128,
        "alice",
        password,
    )
    assert str(proxy) == "http://alice:***@proxy.example:3128"
