"""TLS faults the fault matrix did not have: a server demanding a client certificate, under
TLS 1.2 and TLS 1.3 (where the refusal arrives after the handshake). In-process."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterator

import pytest

from netcheck.engine import Check, run
from netcheck.net import Nameserver, Network
from netcheck.net.resolve import Resolver
from netcheck.net.tls import Trust
from netcheck.profile import Endpoint, TlsPolicy
from netcheck.trust import spki_pin
from tests.fakenet import Response, WebServer, ZoneEntry
from tests.loopback_lab import Lab

CLIENT_CERT = {"tls12": "198.18.8.12", "tls13": "198.18.8.13"}


@pytest.fixture(scope="module")
def servers(lab: Lab) -> Iterator[None]:
    started = []
    for name, address in CLIENT_CERT.items():
        version = ssl.TLSVersion.TLSv1_3 if name == "tls13" else ssl.TLSVersion.TLSv1_2
        ctx = lab.ca.server_context(
            f"{name}.clientcert.test", minimum_version=version, maximum_version=version
        )
        ctx.verify_mode = ssl.CERT_REQUIRED  # no client will have one
        ctx.load_verify_locations(cadata=lab.ca.cert_pem.bytes().decode())
        lab.dns.set(f"{name}.clientcert.test", ZoneEntry(a=[address]))
        server = WebServer(address, 443, tls=ctx, routes={"*": Response(body=b"hi")})
        server.start()
        started.append(server)
    yield
    for server in started:
        server.stop()


@pytest.mark.parametrize("version", list(CLIENT_CERT))
@pytest.mark.parametrize("kind", ["firewall", "tls"])
def test_a_demand_for_a_client_certificate_is_named(lab, servers, version, kind) -> None:
    """The same cause under TLS 1.2 and 1.3, for both checks, and its own advice."""
    url = f"https://{version}.clientcert.test/"
    endpoint = Endpoint(url, url, tls=TlsPolicy((spki_pin(lab.ca.certificate),)))
    network = Network(Resolver((Nameserver.parse(lab.nameserver),)), trust=Trust((lab.ca_pem,)))
    try:
        result = asyncio.run(run(Check(kind, endpoint), network, 2.0))
    finally:
        network.close()
    if kind == "tls" and version == "tls13":  # capped at 1.2: the server refuses the version
        assert (result.layer, result.cause) == ("tls", "tls_version_unsupported")
        return
    assert (result.outcome, result.layer, result.cause) == (
        "fail",
        "tls",
        "tls_client_certificate_required",
    ), result.explain()
    assert "client certificate" in result.advice and "TLS 1.2" not in result.advice
