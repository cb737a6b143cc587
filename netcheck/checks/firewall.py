"""Is the URL reachable through firewall and proxy? DNS → TCP → TLS → an HTTP answer.

Any status from the origin counts: the firewall let us through. An answer the proxy made
itself (407, a block page, a gateway error) means blocked.
"""

from __future__ import annotations

from netcheck.checks.kind import Kind, endpoints
from netcheck.net import Network
from netcheck.profile import Endpoint
from netcheck.result import Trace


async def probe(endpoint: Endpoint, network: Network, trace: Trace) -> str:
    answer = await network.get(
        endpoint.location, trace, max_bytes=4096, family=endpoint.family, policy=endpoint.tls
    )
    return f"the origin answered HTTP {answer.status} {answer.reason}"


KIND = Kind("firewall", "firewall", probe, endpoints("firewall", split=True))
