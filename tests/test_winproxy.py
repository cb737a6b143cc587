"""Windows proxy settings, parsed from `netsh winhttp show proxy` output and registry values.

The netsh texts follow the layout Windows prints (English, plus translated labels); they
run on any OS, and reading the live settings is a no-op off Windows.
"""

from __future__ import annotations

import sys

import pytest

from netcheck.winproxy import (
    ProxySetting,
    environment_rows,
    parse_netsh,
    parse_wininet,
    read_winhttp,
    read_wininet,
)

DIRECT_EN = """
Current WinHTTP proxy settings:

    Direct access (no proxy server).

"""
PROXY_EN = """
Current WinHTTP proxy settings:

    Proxy Server(s) :  proxy.contoso.com:8080
    Bypass List     :  *.contoso.com;<local>

"""
PROXY_NO_BYPASS_EN = """
Current WinHTTP proxy settings:

    Proxy Server(s) :  http=proxy:80;https=proxy:8443
    Bypass List     :  (none)

"""
DIRECT_FR = """
Paramètres actuels du proxy WinHTTP :

    Accès direct (aucun serveur proxy).

"""
PROXY_DE = """
Aktuelle WinHTTP-Proxyeinstellungen:

    Proxyserver  :  10.0.0.1:3128
    Umgehungsliste  :  (keine)

"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (DIRECT_EN, ProxySetting()),
        (PROXY_EN, ProxySetting("proxy.contoso.com:8080", "*.contoso.com;<local>")),
        (PROXY_NO_BYPASS_EN, ProxySetting("http=proxy:80;https=proxy:8443")),
        (DIRECT_FR, ProxySetting()),
        (PROXY_DE, ProxySetting("10.0.0.1:3128")),
        ("", ProxySetting()),
    ],
    ids=["direct-en", "proxy-en", "no-bypass-en", "direct-fr", "proxy-de", "empty"],
)
def test_netsh_output_in_any_language(text: str, expected: ProxySetting) -> None:
    assert parse_netsh(text) == expected


def test_wininet_registry_values() -> None:
    values = {"ProxyEnable": 1, "ProxyServer": "proxy:8080", "ProxyOverride": "<local>"}
    assert parse_wininet(values) == ProxySetting("proxy:8080", "<local>")
    disabled = {**values, "ProxyEnable": 0, "AutoConfigURL": "http://wpad/proxy.pac"}
    assert parse_wininet(disabled) == ProxySetting(pac_url="http://wpad/proxy.pac")
    assert str(parse_wininet(disabled)) == "PAC http://wpad/proxy.pac"
    assert str(parse_wininet({})) == "direct (no proxy)"


def test_a_difference_is_warned_about_with_the_netsh_fix() -> None:
    winhttp, wininet = parse_netsh(DIRECT_EN), ProxySetting("proxy.contoso.com:8080", "<local>")
    rows, warning = environment_rows(winhttp, wininet)
    assert rows == {
        "WinHTTP proxy (netsh winhttp)": "direct (no proxy)",
        "WinINET proxy (Internet Options, this user)": "proxy proxy.contoso.com:8080, "
        "bypass <local>",
    }
    assert warning and "netsh winhttp set proxy" in warning and "import proxy source=ie" in warning
    same = ProxySetting("PROXY.contoso.com:8080", "*.contoso.com; <local>")
    assert environment_rows(parse_netsh(PROXY_EN), same)[1] is None


def test_recorded_command_is_parsed() -> None:
    assert read_winhttp(lambda argv: PROXY_EN) == ProxySetting(
        "proxy.contoso.com:8080", "*.contoso.com;<local>"
    )

    def broken(argv: list[str]) -> str:
        raise FileNotFoundError(argv[0])

    assert read_winhttp(broken) is None


@pytest.mark.skipif(sys.platform == "win32", reason="the no-op is for other systems")
def test_other_systems_read_nothing() -> None:
    assert (read_winhttp(), read_wininet()) == (None, None)
    assert environment_rows(None, None) == ({}, None)
