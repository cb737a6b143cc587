"""TLS as the client meets it: the OS's trust store, handshakes within the deadline, and
what a certificate tells (evidence, TLS inspection, a demand for a client certificate).

Chains are verified the way the OS verifies them (the `truststore` library: CryptoAPI on
Windows, with roots it fetches on demand; the Keychain on macOS, with MDM-pushed CAs;
OpenSSL's store on Linux, loaded once), plus the extra CA bundles given. The interception analysis
(netcheck.trust) then reads the chain the server sent: one handshake, the OS's verdict.
"""

from __future__ import annotations

import asyncio
import asyncio.sslproto
import contextvars
import hashlib
import os
import ssl
import sys
import warnings
from pathlib import Path
from typing import Any, Literal

import truststore
from cryptography import x509

from netcheck import trust
from netcheck.failures import TLS_CLIENT_CERTIFICATE, TLS_INTERCEPTION, Failure, Layer
from netcheck.profile import TlsPolicy
from netcheck.result import Trace

LEGACY = "legacy"  # a TLS context for TLS 1.0/1.1 only (to name what an old server speaks)
TlsVersion = ssl.TLSVersion | Literal["legacy"] | None
LINUX_BUNDLES = (  # where distributions keep the system's CA bundle (as truststore looks)
    "/etc/ssl/cert.pem",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/pki/tls/cert.pem",
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/ssl/ca-bundle.pem",
)
HANDSHAKE_CAP = 3600.0  # asyncio's own handshake timeout: never first, the deadline is
# asyncio reads TLS into a buffer of 256 KiB per connection (SSLProtocol.max_size), which
# the allocator keeps: hundreds of connections in flight cost 250 MB. A TLS record is at
# most 16 KiB; 32 KiB holds two.
asyncio.sslproto.SSLProtocol.max_size = 32 * 1024

# Set by a connection before it starts: the handshake marks it when the server sends a
# CertificateRequest (OpenSSL's message callback runs in the connection's context).
CERTIFICATE_REQUESTED: contextvars.ContextVar[list[bool]] = contextvars.ContextVar("cert_req")


def _message(conn: Any, direction: str, *args: Any) -> None:
    """OpenSSL's message callback (version, content type, message type, data)."""
    requested = args[2] == ssl._TLSMessageType.CERTIFICATE_REQUEST  # type: ignore[attr-defined]
    if direction == "read" and requested and (marks := CERTIFICATE_REQUESTED.get(None)) is not None:
        marks.append(True)


class Trust:
    """The run's trust stores and TLS contexts, built once each (loading a store is costly)."""

    def __init__(self, bundles: tuple[Path, ...] = ()) -> None:
        """Loads everything now, in the thread that configures the run: the probes' event
        loop must never stall on loading a trust store."""
        self.bundles = bundles
        self._contexts = {v: self._new(v) for v in (None, ssl.TLSVersion.TLSv1_2, LEGACY)}
        listing = ssl.create_default_context()
        for bundle in self.bundles:
            listing.load_verify_locations(cafile=bundle)
        self._anchors = trust.store_certificates(listing)
        trust.public_roots()

    def describe(self) -> str:
        extra = f" + {', '.join(map(str, self.bundles))}" if self.bundles else ""
        return f"the system trust store (verified as the OS does){extra}"

    def context(self, version: TlsVersion = None) -> ssl.SSLContext:
        """The OS's verification plus the extra bundles; `version` pins one TLS version
        ("legacy": TLS 1.0 and 1.1 only, with OpenSSL: it only names what an old server
        speaks). Chain and host name are always verified."""
        return self._contexts[version]

    def _new(self, version: TlsVersion) -> ssl.SSLContext:
        if version == LEGACY:
            ctx = ssl.create_default_context()
            ctx.set_ciphers("DEFAULT:@SECLEVEL=0")  # OpenSSL 3 refuses TLS < 1.2 else
            with warnings.catch_warnings(category=DeprecationWarning, action="ignore"):
                ctx.minimum_version = ssl.TLSVersion.TLSv1
                ctx.maximum_version = ssl.TLSVersion.TLSv1_1
        else:
            ctx = _os_verified()
            if version:
                ctx.minimum_version = ctx.maximum_version = version
        for bundle in self.bundles:
            ctx.load_verify_locations(cafile=bundle)
        getattr(ctx, "_ctx", ctx)._msg_callback = _message  # type: ignore[attr-defined]
        return ctx

    def anchors(self) -> list[x509.Certificate]:
        """The CA certificates this run trusts that can be listed (a bundle file, the
        Windows ROOT store; a certificate directory's roots cannot be listed)."""
        return self._anchors


def _os_verified() -> ssl.SSLContext:
    """A context that verifies as the OS does. On Windows and macOS that is truststore's
    (CryptoAPI, the Keychain). On Linux the OS store is OpenSSL's own, loaded once here:
    truststore would reload the whole bundle for every connection (its `_configure_context`
    runs in each `wrap_bio`), 10-50 ms of the event loop's time per handshake. Where this
    Python's OpenSSL points at no certificates, the distribution's bundle is loaded, from
    the places truststore looks."""
    if sys.platform in ("win32", "darwin"):
        return truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    defaults = ssl.get_default_verify_paths()
    if defaults.cafile or (defaults.capath and os.listdir(defaults.capath)):
        ctx.set_default_verify_paths()
    elif bundle := next((p for p in LINUX_BUNDLES if os.path.isfile(p)), None):
        ctx.load_verify_locations(cafile=bundle)
    return ctx


async def handshake(writer: asyncio.StreamWriter, host: str, ctx: ssl.SSLContext) -> ssl.SSLObject:
    """TLS over an open connection, until the check's deadline cancels it; a demand for a
    client certificate that ends the handshake is named as such."""
    marks: list[bool] = CERTIFICATE_REQUESTED.get([])
    try:
        await writer.start_tls(ctx, server_hostname=host, ssl_handshake_timeout=HANDSHAKE_CAP)
    except ssl.SSLError as exc:
        if marks and not isinstance(exc, ssl.SSLCertVerificationError):
            raise client_certificate_failure(exc) from None
        raise
    return writer.get_extra_info("ssl_object")


def client_certificate_failure(exc: BaseException) -> Failure:
    return Failure(
        Layer.TLS,
        TLS_CLIENT_CERTIFICATE,
        "the server asked for a client certificate and ended the connection when none "
        f"was sent ({getattr(exc, 'reason', None) or type(exc).__name__})",
    )


def check_interception(
    tls: ssl.SSLObject,
    policy: TlsPolicy,
    anchors: list[x509.Certificate],
    proxy: object | None,
    trace: Trace,
) -> None:
    """The chain the server sent must reach a root the policy expects; one that verified
    only through another CA trusted here is TLS inspection (a failure, or a warning)."""
    leaf = x509.load_der_x509_certificate(tls.getpeercert(binary_form=True) or b"")
    sent = chain_as_sent(tls)
    if not sent:
        trace.note(tls_interception_check="off: this Python does not show the chain sent")
        return
    top = trust.chain_top(leaf, sent)
    if how := trust.reaches(top, policy.expected_roots, anchors):
        trace.note(expected_roots=f"reached: the chain {how}")
        return
    anchor = trust.issuing_anchor(top, anchors)
    by = trust.common_name(anchor.subject if anchor else top.issuer)
    how = (
        f"issued by the locally trusted root {anchor.subject.rfc4514_string()}"
        f" ({trust.spki_pin(anchor)})"
        if anchor
        else f"issued by {top.issuer.rfc4514_string()}, which chains to a local root"
    )
    via = f" through the proxy {proxy}" if proxy else ""
    failure = Failure(
        Layer.TLS,
        TLS_INTERCEPTION,
        f"TLS inspection by {by}{via}: the certificate chain is {how}, not by a root the "
        "profile expects",
    )
    if policy.interception == "fail":
        raise failure
    trace.warn(failure)


def evidence(tls: ssl.SSLObject) -> dict[str, str]:
    out = {"tls_version": tls.version() or "", "tls_cipher": (tls.cipher() or ("",))[0]}
    if der := tls.getpeercert(binary_form=True):
        out.update(certificate_evidence(der))
    if chain := chain_as_sent(tls):
        out["certificate_chain"] = " < ".join(trust.common_name(c.subject) for c in chain)
    return out


def certificate_evidence(der: bytes) -> dict[str, str]:
    cert = x509.load_der_x509_certificate(der)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = ", ".join(san.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        names = "none"
    return {
        "certificate_subject": cert.subject.rfc4514_string() or "(empty)",
        "certificate_san": names,
        "certificate_issuer": cert.issuer.rfc4514_string(),
        "certificate_not_after": cert.not_valid_after_utc.isoformat(),
        "certificate_sha256": hashlib.sha256(der).hexdigest(),
    }


def chain_as_sent(tls: ssl.SSLObject) -> list[x509.Certificate]:
    """The chain the server sent (public from Python 3.13; the same call is private in
    3.10-3.12); [] where neither exists."""
    get = getattr(tls, "get_unverified_chain", None) or getattr(
        getattr(tls, "_sslobj", None), "get_unverified_chain", None
    )
    chain = (get() or []) if get else []
    ders = [c if isinstance(c, bytes) else c.public_bytes(ssl._ssl.ENCODING_DER) for c in chain]  # type: ignore[attr-defined]
    return [x509.load_der_x509_certificate(d) for d in ders]
