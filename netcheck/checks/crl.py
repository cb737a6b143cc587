"""Can the certificate revocation list be downloaded, and is it a current CRL?"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cryptography import x509

from netcheck import failures as f
from netcheck.checks.kind import Kind, endpoints
from netcheck.failures import Failure, Layer
from netcheck.net import Network
from netcheck.profile import Endpoint
from netcheck.result import Trace

MAX_BYTES = 16 * 1024 * 1024  # the largest public CRLs are a few MB


async def probe(endpoint: Endpoint, network: Network, trace: Trace) -> str:
    answer = await network.get(
        endpoint.location, trace, max_bytes=MAX_BYTES, family=endpoint.family, policy=endpoint.tls
    )
    if answer.status != 200:
        raise Failure(
            Layer.HTTP,
            f.HTTP_STATUS,
            f"HTTP {answer.status} {answer.reason}"
            + (f", Location: {answer.headers['location']}" if "location" in answer.headers else ""),
        )
    if answer.truncated:
        raise Failure(Layer.CONTENT, f.TOO_LARGE, f"more than {MAX_BYTES} bytes")
    crl = parse(answer.body)
    issuer, next_update = crl.issuer.rfc4514_string(), crl.next_update_utc
    trace.note(
        crl_issuer=issuer,
        crl_bytes=len(answer.body),
        crl_this_update=crl.last_update_utc.isoformat(),
        crl_next_update=next_update.isoformat() if next_update else "none",
        crl_revoked=len(crl),
    )
    now = datetime.now(UTC)
    if next_update and next_update < now:
        raise Failure(
            Layer.CONTENT,
            f.CRL_EXPIRED,
            f"nextUpdate {next_update:%Y-%m-%d %H:%M} UTC passed {_ago(now - next_update)} ago",
        )
    return f"CRL of {issuer}, {len(answer.body)} bytes, valid until {next_update}"


KIND = Kind("crl", "crl", probe, endpoints("crl"))


def parse(body: bytes) -> x509.CertificateRevocationList:
    """DER or PEM; anything else is a content failure with the first bytes as evidence."""
    try:
        if body.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_crl(body)
        return x509.load_der_x509_crl(body)
    except ValueError:
        raise Failure(
            Layer.CONTENT, f.CRL_INVALID, f"not a CRL ({len(body)} bytes starting {body[:32]!r})"
        ) from None


def _ago(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.1f} hours"
