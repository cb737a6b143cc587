"""netcheck.url: every URL and host name is normalised or refused in one place, so a check
never probes another name, port or path than the one written, nor silently drops one."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netcheck.url import Url, hostname, redact

SAME = [
    (" https://a.example/ ", "https://a.example/"),  # surrounding whitespace
    ("HTTPS://A.Example/", "https://a.example/"),  # scheme and host case: still https
    ("https://a.example:443/", "https://a.example/"),
    ("http://a.example:80", "http://a.example/"),
    ("https://a.example:/x", "https://a.example/x"),
    ("https://a.example./", "https://a.example/"),  # a trailing dot names the same host
    ("https://a.example/a b", "https://a.example/a%20b"),  # a space in the path
    ("https://a.example/é?q=a b", "https://a.example/%C3%A9?q=a%20b"),
    ("https://a.example/%7e/%zz", "https://a.example/%7E/%25zz"),  # escapes: one form
    ("https://a.example#part", "https://a.example/"),  # a fragment is never sent
    ("https://B\u00fccher.EXAMPLE.:8443/", "https://xn--bcher-kva.example:8443/"),  # IDNA 2008
    ("https://\u0131static.example/", "https://xn--static-o9a.example/"),  # dotless i: its own name
    ("https://*.Office.com/", "https://*.office.com/"),
    ("https://[FE80::1]:8443/", "https://[fe80::1]:8443/"),
    ("https://a.example:65535/", "https://a.example:65535/"),
]


@pytest.mark.parametrize(("text", "normal"), SAME, ids=[s[0] for s in SAME])
def test_urls_are_normalised(text: str, normal: str) -> None:
    url = Url.parse(text, wildcard=True)
    assert str(url) == normal
    assert Url.parse(normal, wildcard=True) == url  # the normal form is a fixed point


def test_parts_of_a_url() -> None:
    url = Url.parse("HTTPS://B\u00fccher.example:8443/a b?x=1")
    assert (url.scheme, url.host, url.port, url.target) == (
        "https",
        "xn--bcher-kva.example",
        8443,
        "/a%20b?x=1",
    )
    assert (url.https, url.authority, url.host_port) == (
        True,
        "xn--bcher-kva.example:8443",
        "xn--bcher-kva.example:8443",
    )
    v6 = Url.parse("http://[::1]/")
    assert (v6.authority, v6.host_port) == ("[::1]", "[::1]:80")


REFUSED = [
    ("https://a.example:0/", "the port must be a number from 1 to 65535"),
    ("https://a.example:65536/", "the port must be a number from 1 to 65535"),
    ("https://a.example:+443/", "the port must be a number"),
    ("https://a.example:\uff14\uff14\uff13/", "the port must be a number"),  # fullwidth digits
    ("https://bob:hunter2/x@a.example/", "'https://***@a.example/': the port must be"),
    ("https://[::1/", "Invalid IPv6 URL"),
    ("https://\u017ftatic.example/", "U+017F"),  # long s: not probed as static
    ("https://\u212a.example/", "not a valid host name"),  # Kelvin sign: not probed as k
    ("https://\u0130stanbul.example/", "U+0130"),
    (
        "https://\uff25\uff38\uff21\uff2d\uff30\uff2c\uff25.com/",
        "not a valid host name",
    ),  # fullwidth letters
    ("https://a\u200b.example/", "control characters"),  # zero-width space
    ("https://a\t.example/", "control characters"),  # urlsplit would drop the tab
    ("https://a.example/\nx", "control characters"),
    ("https://xn--zz.example/", "Invalid A-label"),
    ("https://127.1/", "an IPv4 address in another notation"),
    ("https://0x7f.1/", "an IPv4 address in another notation"),
    ("https://a..example/", "not a valid host name"),
    ("https://-a.example/", "not a valid host name"),
    ("https://a b.example/", "not a valid host name"),
    ("https://bob:hunter2@a.example/", "credentials (user:password@) are not allowed"),
    ("https://a.example\\@b.example/", "credentials"),
    ("ftp://a.example/", "the scheme must be http:// or https://"),
    ("https:a.example/", "has no host"),
    ("a.example", "the scheme must be"),
]


@pytest.mark.parametrize(("text", "reason"), REFUSED, ids=[r[0] for r in REFUSED])
def test_urls_are_refused_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(ValueError) as err:
        Url.parse(text)
    assert reason in str(err.value)
    assert "hunter2" not in str(err.value)


def test_host_names() -> None:
    assert hostname(" Login.MicrosoftOnline.com. ") == "login.microsoftonline.com"
    assert hostname("*cdn.onenote.net", wildcard=True) == "*cdn.onenote.net"
    for bad in ("*.a.example", "192.0.2.1", "", ".", "a" * 64 + ".example", "x." * 127 + "x"):
        with pytest.raises(ValueError):
            hostname(bad)


def test_redact() -> None:
    assert redact("http://alice:se/cret@p.example:3128/") == "http://***@p.example:3128/"
    assert redact("https://a.example/") == "https://a.example/"


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=40))
def test_any_text_is_a_url_in_normal_form_or_a_value_error(text: str) -> None:
    for candidate in (text, f"https://{text}", f"http://a.example/{text}"):
        try:
            url = Url.parse(candidate, wildcard=True)
        except ValueError as exc:
            assert str(exc).isprintable()
            continue
        assert Url.parse(str(url), wildcard=True) == url
        assert str(url).isascii() and str(url).isprintable()
