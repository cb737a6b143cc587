"""The lab's NTLM and Negotiate (Kerberos) proxies work, proved with curl in the corporate
namespace while netcheck's client cannot speak them yet (the scenarios' runs that need it
are skipped in test_lab_e2e.py): with credentials an allowed host is 200 and a denied one
403; without, 407 naming the scheme. squid's access log names the user it authenticated."""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass

import pytest

from lab.plan import PROXY_FQDN, REALM, USER
from lab.topology import Lab, missing_binaries
from tests import lab_fleet as fleet

ALLOWED, DENIED = "https://login.microsoftonline.com/", "https://ajax.aspnetcdn.com/"
PLAIN = "http://crl.microsoft.com/pki/crl/products/MicrosoftRootAuthority.crl"

if os.geteuid() != 0 or missing_binaries():
    pytestmark = pytest.mark.skip(reason="the lab needs root and its daemons")


@dataclass
class Answer:
    connect: str  # the proxy's answer to CONNECT ("000": none was sent)
    status: str  # the final answer's status ("000": none came)
    headers: str  # every answer's headers, the proxy's included
    error: str


def curl(lab: Lab, url: str, *auth: str, env: dict[str, str] | None = None) -> Answer:
    proc = subprocess.run(
        [
            *("ip", "netns", "exec", lab.corp, "curl", "-sS", "-o", "/dev/null", "-D", "-"),
            *("-w", "\n%{http_connect} %{http_code}", "--max-time", "10"),
            *("--cacert", str(lab.ca_bundle), "--proxy", str(lab.proxy_url("anonymous"))),
            *auth,
            url,
        ],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=20,
    )
    headers, _, codes = proc.stdout.rpartition("\n")
    connect, status = codes.split()
    return Answer(connect, status, headers, proc.stderr)


def through(lab: Lab, *auth: str, env: dict[str, str] | None = None) -> dict[str, object]:
    """The three requests with credentials, one without, and what squid logged."""
    answers = {
        "allowed": curl(lab, ALLOWED, *auth, env=env),
        "plain": curl(lab, PLAIN, *auth, env=env),
        "denied": curl(lab, DENIED, *auth, env=env),
        "anonymous": curl(lab, ALLOWED),
    }
    assert lab.dir
    return answers | {"log": (lab.dir / "squid" / "access.log").read_text()}


def ntlm(lab: Lab) -> dict[str, object]:
    return through(lab, "--proxy-ntlm", "--proxy-user", f"{USER}:{lab.password}")


def negotiate(lab: Lab) -> dict[str, object]:
    # `-U :`: no user or password; curl takes the ticket from KRB5CCNAME.
    return through(lab, "--proxy-negotiate", "--proxy-user", ":", env=lab.client_env("kerberos"))


def kerberos_tickets(lab: Lab) -> str:
    env = {**os.environ, **lab.client_env("kerberos")}
    return subprocess.run(
        ["ip", "netns", "exec", lab.corp, "klist"], env=env, capture_output=True, text=True
    ).stdout


fleet.want("proxy-ntlm", curl=ntlm)
fleet.want("proxy-negotiate", curl=negotiate, klist=kerberos_tickets)
# The scheme, and the user as squid logs it: ntlm_fake_auth garbles the NTLM message's
# domain and workstation around the user name; Kerberos gives the user's principal.
SCHEMES = {
    "proxy-ntlm": ("NTLM", rf"\S*{USER}\S*"),
    "proxy-negotiate": ("Negotiate", re.escape(f"{USER}@{REALM}")),
}


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory):
    return tmp_path_factory.mktemp("lab-proxy-auth")


@pytest.mark.parametrize("name", list(SCHEMES))
def test_with_credentials_allowed_hosts_pass(name: str, out) -> None:
    answers = fleet.outcome(name, out).probe("curl")
    allowed, plain = answers["allowed"], answers["plain"]
    assert (allowed.connect, allowed.status) == ("200", "200"), allowed
    assert (plain.connect, plain.status) == ("000", "200"), plain  # no CONNECT: GET via squid


@pytest.mark.parametrize("name", list(SCHEMES))
def test_with_credentials_denied_hosts_are_403(name: str, out) -> None:
    denied = fleet.outcome(name, out).probe("curl")["denied"]
    assert denied.connect == "403" and "response 403" in denied.error, denied


@pytest.mark.parametrize("name", list(SCHEMES))
def test_without_credentials_407_names_the_scheme(name: str, out) -> None:
    anonymous = fleet.outcome(name, out).probe("curl")["anonymous"]
    scheme, _ = SCHEMES[name]
    assert anonymous.connect == "407", anonymous
    assert f"Proxy-Authenticate: {scheme}" in anonymous.headers.splitlines(), anonymous.headers


@pytest.mark.parametrize("name", list(SCHEMES))
def test_squid_logs_the_authenticated_user(name: str, out) -> None:
    log = fleet.outcome(name, out).probe("curl")["log"]
    _, user = SCHEMES[name]
    for status, request in [
        ("TCP_TUNNEL/200", "CONNECT login.microsoftonline.com:443"),
        ("TCP_MISS/200", f"GET {PLAIN}"),
        ("TCP_DENIED/403", "CONNECT ajax.aspnetcdn.com:443"),
    ]:
        assert re.search(rf" {status} \d+ {re.escape(request)} {user} ", log), log
    # The request without credentials: refused, and no user.
    assert log.splitlines()[-1].split()[3:8:4] == ["TCP_DENIED/407", "-"], log


def test_kerberos_ticket_for_the_proxys_service_principal(out) -> None:
    """kinit at lab start gave the user a TGT; curl got HTTP/<proxy fqdn> with it."""
    tickets = fleet.outcome("proxy-negotiate", out).probe("klist")
    assert f"Default principal: {USER}@{REALM}" in tickets
    assert f"krbtgt/{REALM}@{REALM}" in tickets and f"HTTP/{PROXY_FQDN}@{REALM}" in tickets
