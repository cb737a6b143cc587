"""Can this client negotiate TLS 1.2 with the endpoint (the version Office activation needs)?"""

from __future__ import annotations

import ssl

from netcheck.net import Network
from netcheck.profile import Endpoint
from netcheck.result import Trace


def probe(endpoint: Endpoint, network: Network, trace: Trace) -> str:
    ctx = network.ssl_context(ssl.TLSVersion.TLSv1_2)
    sock, _ = network.connect(endpoint.url, trace, family=endpoint.family, tls=ctx)
    with sock:
        version, cipher = sock.version(), (sock.cipher() or ("?",))[0]
    return f"negotiated {version} with {cipher}"
