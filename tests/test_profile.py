"""Profiles: the shipped one loads; every malformed one is a one-line error naming where."""

from __future__ import annotations

from pathlib import Path

import pytest

from netcheck.checks import KINDS
from netcheck.profile import ProfileError, load
from tests.loopback_lab import REPO

HEAD = '[profile]\nname = "t"\n'


def test_default_profile_holds_the_checklist() -> None:
    profile = load(REPO / "endpoints.toml")
    urls = {e.url for e in profile.endpoints}
    firewall = KINDS["firewall"].plan(profile, None)
    assert len(firewall) == 20  # the seed's allow-list, CRL URLs included
    both = KINDS["firewall"].plan(profile, "both")
    assert len(both) == 2 * 20 and [(e.id, e.family) for e in both[:2]] == [
        ("officecdn.microsoft.com", "ipv4"),
        ("officecdn.microsoft.com-ipv6", "ipv6"),
    ]
    assert {e.family for e in KINDS["tls"].plan(profile, "ipv6")} == {"ipv6"}
    assert "https://ols.officeapps.live.com/olsc" in urls
    assert len(KINDS["crl"].plan(profile, None)) == 4
    assert all(e.scheme == "http" for e in KINDS["crl"].plan(profile, None))
    assert {e.expect_body for e in KINDS["ncsi_web"].plan(profile, None)} == {
        "Microsoft Connect Test",
        "Microsoft NCSI",
    }
    (ncsi_dns,) = KINDS["ncsi_dns"].plan(profile, None)
    assert (ncsi_dns.expect_a, ncsi_dns.expect_aaaa) == (
        ("131.107.255.255",),
        ("fd3e:4f5a:5b81::1",),
    )
    assert profile.msoid and profile.msoid.vianet == "clientconfig.partner.microsoftonline-p.net.cn"
    assert {e.id for e in KINDS["tls"].plan(profile, None)} == {
        e.id for e in firewall if e.scheme == "https"
    }
    # Activation endpoints must not be inspected: only the public web PKI's roots are expected.
    (policy,) = {e.tls for e in KINDS["tls"].plan(profile, None)}
    assert policy.interception == "fail" and policy.expected_roots[0] == "public"
    assert "CN=Microsoft Root Certificate Authority 2011" in policy.expected_roots[1]


def test_ids_are_host_and_path_and_domains_merge(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(
        HEAD + '[[endpoint]]\nurl = "https://a.example/x/"\n'
        '[[endpoint]]\nurl = "https://A.example"\n'
        '[msoid]\nworldwide = "w.example"\nvianet = "v.example"\n'
        'domains = ["c.example"]\n'
    )
    profile = load(path, domains=("d.example", "c.example"), tenant="21vianet")
    assert [e.id for e in profile.endpoints] == ["a.example/x", "a.example"]
    assert [d.name for d in KINDS["msoid"].plan(profile, None)] == ["c.example", "d.example"]
    assert profile.msoid and profile.msoid.tenant == "21vianet"


BAD = [
    ("toml syntax", HEAD + "[[endpoint]\n", "TOML syntax error"),
    ("empty file", "", "the [profile] table with a name is missing"),
    ("unknown table", HEAD + "[firewall]\n", "unknown table [firewall]"),
    (
        "unknown key",
        HEAD + '[[endpoint]]\nurl = "https://a.example/"\nport = 1\n',
        "endpoint[0] (https://a.example/): unknown key 'port' (allowed: id, category, required, "
        "notes, url, checks, family, service_area, probe_host, skip, expected_roots, interception)",
    ),
    (
        "wrong type",
        HEAD + '[[endpoint]]\nurl = "https://a.example/"\nrequired = "yes"\n',
        "endpoint[0] (https://a.example/): key 'required' must be a boolean (true/false), "
        "not string",
    ),
    ("missing url", HEAD + '[[endpoint]]\ncategory = "x"\n', "endpoint[0]: key 'url' is missing"),
    (
        "duplicate id",
        HEAD + '[[endpoint]]\nurl = "https://a.example/"\n[[endpoint]]\nurl = "http://a.example"\n',
        "endpoint[1] (http://a.example): key 'id': duplicate id 'a.example' (also endpoint[0])",
    ),
    ("url without host", HEAD + '[[endpoint]]\nurl = "https:///path"\n', "has no host"),
    (
        "unsupported scheme",
        HEAD + '[[endpoint]]\nurl = "ftp://a.example/"\n',
        "the scheme must be http:// or https://",
    ),
    (
        "host with spaces",
        HEAD + '[[endpoint]]\nurl = "https://a b.example/"\n',
        "is not a valid host name",
    ),
    (
        "host over 253 chars",
        HEAD + f'[[endpoint]]\nurl = "https://{"a" * 60 + "."}{"b" * 60}.'
        f'{"c" * 60}.{"d" * 60}.{"e" * 20}.example/"\n',
        "is not a valid host name",
    ),
    (
        "ip instead of name",
        HEAD + '[[endpoint]]\nurl = "https://192.0.2.1/"\n',
        "is an IP address; a host name is required",
    ),
    (
        "name instead of ip",
        HEAD + '[[ncsi_dns]]\nname = "dns.example"\nexpect_a = ["dns.example"]\n',
        "ncsi_dns[0]: key 'expect_a': 'dns.example' is not an IPv4 address",
    ),
    (
        "v6 in an A list",
        HEAD + '[[ncsi_dns]]\nname = "dns.example"\nexpect_a = ["fd00::1"]\n',
        "is not an IPv4 address",
    ),
    (
        "bad check name",
        HEAD + '[[endpoint]]\nurl = "https://a.example/"\nchecks = ["ping"]\n',
        "key 'checks': 'ping' is not one of firewall, tls, crl",
    ),
    (
        "tls on http",
        HEAD + '[[endpoint]]\nurl = "http://a.example/"\nchecks = ["tls"]\n',
        "key 'checks': 'tls' needs an https:// URL",
    ),
    (
        "ncsi over https",
        HEAD + '[[ncsi_web]]\nurl = "https://a.example/"\nexpect_body = "x"\n',
        "NCSI probes are plain http://",
    ),
    (
        "credentials in a url",
        HEAD + '[[endpoint]]\nurl = "https://bob:hunter2@a.example/"\n',
        "endpoint[0] (https://***@a.example/): key 'url': 'https://***@a.example/': "
        "credentials (user:password@) are not allowed",
    ),
    (
        "bad port",
        HEAD + '[[endpoint]]\nurl = "https://a.example:99999/"\n',
        "the port must be a number from 1 to 65535",
    ),
    (
        "port 0",
        HEAD + '[[endpoint]]\nurl = "https://a.example:0/"\n',
        "key 'url': 'https://a.example:0/': the port must be a number from 1 to 65535",
    ),
    (
        "long s in a host",
        HEAD + '[[endpoint]]\nurl = "https://\u017ftatic.example/"\n',
        "is not a valid host name (Codepoint U+017F",
    ),
    (
        "control character in an id",
        HEAD + '[[endpoint]]\nurl = "https://a.example/"\nid = "a\\u0007b"\n',
        "key 'id': 'a\\x07b' holds control characters",
    ),
    (
        "endpoint not an array",
        HEAD + '[endpoint]\nurl = "https://a.example/"\n',
        "endpoint must be an array of tables ([[endpoint]])",
    ),
    (
        "bad tenant",
        HEAD + '[msoid]\nworldwide = "w.example"\nvianet = "v.example"\ntenant = "cn"\n',
        "[msoid]: key 'tenant': 'cn' is not one of worldwide, 21vianet",
    ),
    (
        "probe host on a plain url",
        HEAD + '[[endpoint]]\nurl = "https://a.example/"\nprobe_host = "b.example"\n',
        "key 'probe_host': only for wildcard URLs (*.domain)",
    ),
    (
        "probe host outside the wildcard",
        HEAD + '[[endpoint]]\nurl = "https://*.a.example/"\nprobe_host = "a.example"\n',
        "key 'probe_host': 'a.example' does not match '*.a.example'",
    ),
    (
        "wildcard probe host",
        HEAD + '[[endpoint]]\nurl = "https://*.a.example/"\nprobe_host = "*.b.a.example"\n',
        "key 'probe_host': '*.b.a.example' is not a valid host name",
    ),
    (
        "wildcard ncsi url",
        HEAD + '[[ncsi_web]]\nurl = "http://*.a.example/"\nexpect_body = "x"\n',
        "ncsi_web[0] (http://*.a.example/): key 'url': '*.a.example' is not a valid host name",
    ),
    (
        "list item type",
        HEAD + '[[endpoint]]\nurl = "https://a.example/"\nchecks = [1]\n',
        "items must be strings, not integer",
    ),
    (
        "root not a name",
        HEAD + '[tls]\nexpected_roots = ["DigiCert Global Root G2"]\n',
        "[tls]: key 'expected_roots': 'DigiCert Global Root G2' is neither a subject name",
    ),
    (
        "short pin",
        HEAD + '[tls]\nexpected_roots = ["sha256//AAAA"]\n',
        "[tls]: key 'expected_roots': 'sha256//AAAA' is not a SHA-256 pin",
    ),
    (
        "bad interception",
        HEAD + '[tls]\ninterception = "ignore"\n',
        "[tls]: key 'interception': 'ignore' is not one of fail, warn",
    ),
    (
        "roots on http",
        HEAD + '[[endpoint]]\nurl = "http://a.example/"\nexpected_roots = ["CN=R"]\n',
        "endpoint[0] (http://a.example/): keys 'expected_roots'/'interception' need an https://",
    ),
]


def test_urls_are_normalised_before_the_checks_are_chosen(tmp_path: Path) -> None:
    """Case, spaces, a trailing dot or a Unicode name never lose an https URL its TLS check."""
    path = tmp_path / "p.toml"
    urls = [
        " https://a.example/ ",
        "HTTPS://B.Example/",
        "https://c.example./a b",
        "https://bü.example",
    ]
    path.write_text(HEAD + "".join(f'[[endpoint]]\nurl = "{url}"\n' for url in urls))
    endpoints = load(path).endpoints
    assert [(e.id, e.url) for e in endpoints] == [
        ("a.example", "https://a.example/"),
        ("b.example", "https://b.example/"),
        ("c.example/a%20b", "https://c.example/a%20b"),
        ("xn--b-eha.example", "https://xn--b-eha.example/"),
    ]
    assert {e.checks for e in endpoints} == {("firewall", "tls")}


def test_tls_policy_defaults_overrides_and_command_line(tmp_path: Path) -> None:
    pin = "sha256//" + "A" * 43 + "="
    path = tmp_path / "p.toml"
    path.write_text(
        HEAD + '[tls]\nexpected_roots = ["CN=Root A,O=A,C=US"]\n'
        '[[endpoint]]\nurl = "https://a.example/"\n'
        '[[endpoint]]\nurl = "https://b.example/"\n'
        f'expected_roots = ["{pin}", "public"]\ninterception = "warn"\n'
    )
    a, b = load(path).endpoints
    assert (a.tls.expected_roots, a.tls.interception) == (("CN=Root A,O=A,C=US",), "fail")
    assert (b.tls.expected_roots, b.tls.interception) == ((pin, "public"), "warn")
    a, b = load(path, interception="warn", expected_roots=("CN=Lab",)).endpoints
    assert a.tls.expected_roots == ("CN=Root A,O=A,C=US", "CN=Lab")
    assert {a.tls.interception, b.tls.interception} == {"warn"}


@pytest.mark.parametrize(("text", "message"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_profile_is_one_line_naming_file_entry_and_key(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ProfileError) as err:
        load(path)
    assert str(err.value).startswith(f"{path}: ")
    assert message in str(err.value)
    assert "\n" not in str(err.value)
    assert "hunter2" not in str(err.value)


def test_wildcards_and_probe_hosts(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(
        HEAD + '[[endpoint]]\nurl = "https://*.a.example/x"\nprobe_host = "www.a.example"\n'
        'service_area = "Exchange"\n'
        '[[endpoint]]\nurl = "https://*cdn.b.example:8443/"\n'
        '[[endpoint]]\nurl = "http://c.*.example/"\nskip = "not today"\n'
    )
    probed, bare, skipped = load(path).endpoints
    assert (probed.id, probed.url, probed.pattern, probed.skip) == (
        "*.a.example/x",
        "https://www.a.example/x",
        "*.a.example",
        "",
    )
    assert probed.service_area == "Exchange"
    assert (bare.id, bare.url, bare.pattern) == (
        "*cdn.b.example",
        "https://*cdn.b.example:8443/",
        "*cdn.b.example",
    )
    assert bare.skip == (
        'wildcard *cdn.b.example: no concrete host to probe; add probe_host = "<a host>"'
    )
    assert (skipped.pattern, skipped.skip) == ("c.*.example", "not today")


def test_unreadable_files(tmp_path: Path) -> None:
    (tmp_path / "latin1.toml").write_bytes(HEAD.encode() + b"# caf\xe9\n")
    cases = {
        tmp_path / "missing.toml": "no such file",
        tmp_path: "is a directory",
        tmp_path / "latin1.toml": "not UTF-8 text",
    }
    for path, message in cases.items():
        with pytest.raises(ProfileError, match=message):
            load(path)


def test_domain_without_msoid_rule(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(HEAD)
    with pytest.raises(ProfileError, match="--domain was given but the profile has no"):
        load(path, domains=("contoso.com",))
