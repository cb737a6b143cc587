"""Can this client negotiate TLS 1.2 with the endpoint (the version Office activation needs)?"""

from __future__ import annotations

import ssl

from netcheck import failures as f
from netcheck.checks.kind import Kind, endpoints
from netcheck.failures import Failure, Layer
from netcheck.net import Network
from netcheck.net.tls import LEGACY
from netcheck.profile import Endpoint
from netcheck.result import Trace


async def probe(endpoint: Endpoint, network: Network, trace: Trace) -> str:
    try:
        conn = await network.open(
            endpoint.location,
            trace,
            family=endpoint.family,
            tls_version=ssl.TLSVersion.TLSv1_2,
            policy=endpoint.tls,
        )
    except Failure as exc:
        # A server that only speaks TLS 1.0/1.1 often rejects a TLS 1.2 hello with a bare
        # handshake_failure alert: ask once more, in its own language, to say so.
        if exc.cause == f.TLS_HANDSHAKE and (
            old := await _legacy_version(endpoint, network, trace)
        ):
            raise Failure(
                Layer.TLS, f.TLS_VERSION, f"the server only speaks {old} ({exc.detail})"
            ) from None
        raise
    assert conn.tls is not None
    version, cipher = conn.tls.version(), (conn.tls.cipher() or ("?",))[0]
    conn.close()
    return f"negotiated {version} with {cipher}"


KIND = Kind("tls", "tls", probe, endpoints("tls"))


async def _legacy_version(endpoint: Endpoint, network: Network, trace: Trace) -> str | None:
    """The TLS version below 1.2 the server negotiates, if any (within the same deadline)."""
    try:
        conn = await network.open(
            endpoint.location, Trace(trace.deadline), family=endpoint.family, tls_version=LEGACY
        )
    except Failure:
        return None
    assert conn.tls is not None
    conn.close()
    return conn.tls.version()
