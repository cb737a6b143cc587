"""The closed vocabulary of failures, and the classifier that maps exceptions onto it.

A failure is a (layer, cause) pair: the layer says where along the path it happened,
the cause says what happened there. The same cause can occur at several layers
(a reset during the TLS handshake reads `tls / connection_reset`).
"""

from __future__ import annotations

import asyncio
import errno
import os
import socket
import ssl
from enum import StrEnum

import dns.exception
import dns.message
import dns.rcode
import dns.resolver


class Layer(StrEnum):
    """Where along the path a check failed, in the order a connection meets them."""

    DNS = "dns"
    TCP = "tcp"
    PROXY = "proxy"
    TLS = "tls"
    HTTP = "http"
    CONTENT = "content"
    HOST = "host"  # this machine's own settings (the Windows host checks)


# Causes, grouped by where they usually occur.
DNS_NXDOMAIN = "dns_nxdomain"
DNS_SERVFAIL = "dns_servfail"
DNS_REFUSED = "dns_refused"
DNS_NO_ANSWER = "dns_no_answer"
DNS_NO_NAMESERVER = "dns_no_nameserver"
DNS_CNAME_LOOP = "dns_cname_loop"
DNS_WRONG_ANSWER = "dns_wrong_answer"
DNS_ERROR = "dns_error"
DNS_BLOCKED = "dns_blocked"  # answered with 0.0.0.0, 127.x, ::, ::1 or a block page's address
DNS_OS_OVERRIDE = "dns_os_override"  # the OS resolver fails a name that DNS resolves
TIMEOUT = "timeout"
CONNECTION_REFUSED = "connection_refused"
CONNECTION_RESET = "connection_reset"
CONNECTION_CLOSED = "connection_closed"
NETWORK_UNREACHABLE = "network_unreachable"
HOST_UNREACHABLE = "host_unreachable"
IPV6_BROKEN = "ipv6_broken"
NO_IPV6_ROUTE = "no_ipv6_route"  # a host with only AAAA records, on a machine without IPv6
ADDRESS_UNREACHABLE = "address_unreachable"  # (a warning) some of a host's addresses are dead
PROXY_AUTH_REQUIRED = "proxy_auth_required"
PROXY_DENIED = "proxy_denied"
PROXY_ERROR = "proxy_error"
PROXY_AUTH_FAILED = "proxy_auth_failed"  # the proxy rejected the credentials given
PROXY_AUTH_UNSUPPORTED = "proxy_auth_unsupported"  # no scheme offered that netcheck speaks
PAC_ERROR = "pac_error"  # the PAC file failed or did not answer within the deadline
TLS_UNTRUSTED = "tls_untrusted_certificate"
TLS_EXPIRED = "tls_expired_certificate"
TLS_HOSTNAME_MISMATCH = "tls_hostname_mismatch"
TLS_VERSION = "tls_version_unsupported"
TLS_NOT_TLS = "tls_not_tls"
TLS_HANDSHAKE = "tls_handshake_failed"
TLS_INTERCEPTION = "tls_interception"
TLS_CLIENT_CERTIFICATE = "tls_client_certificate_required"
HTTP_PROTOCOL = "http_protocol_error"
HTTP_REDIRECT = "http_redirect"
HTTP_STATUS = "http_status"
TOO_LARGE = "response_too_large"
WRONG_CONTENT = "wrong_content"
CRL_INVALID = "crl_invalid"
CRL_EXPIRED = "crl_expired"
MSOID_21VIANET = "msoid_21vianet"
MSOID_MISSING = "msoid_missing"
MSOID_UNEXPECTED = "msoid_unexpected"
OS_ERROR = "os_error"
OVERLOADED = "overloaded"  # no verdict: this machine was too busy to run the check in time


class Failure(Exception):
    """A classified failure: raised inside probes, returned to callers as a Result. `advice`
    replaces the cause's own (netcheck.advice) where the probe knows better."""

    def __init__(self, layer: Layer, cause: str, detail: str, advice: str = "") -> None:
        super().__init__(detail)
        self.layer, self.cause, self.detail, self.advice = layer, cause, detail, advice


class Skip(Exception):
    """The check does not apply here (e.g. an IPv6 probe on a host without IPv6)."""


_ERRNO_CAUSES = {
    errno.ECONNREFUSED: CONNECTION_REFUSED,
    errno.ECONNRESET: CONNECTION_RESET,
    errno.ENETUNREACH: NETWORK_UNREACHABLE,
    errno.EHOSTUNREACH: HOST_UNREACHABLE,
    errno.ETIMEDOUT: TIMEOUT,
    errno.EPIPE: CONNECTION_CLOSED,
}

# OpenSSL verify codes (X509_V_ERR_*) worth a cause of their own.
_VERIFY_CAUSES = {
    10: TLS_EXPIRED,  # certificate has expired
    62: TLS_HOSTNAME_MISMATCH,
    18: TLS_UNTRUSTED,  # self-signed leaf
    19: TLS_UNTRUSTED,  # self-signed certificate in chain
    20: TLS_UNTRUSTED,  # unable to get local issuer certificate
    21: TLS_UNTRUSTED,  # unable to verify the first certificate
}

_TLS_VERSION_REASONS = {
    "UNSUPPORTED_PROTOCOL",
    "TLSV1_ALERT_PROTOCOL_VERSION",
    "NO_PROTOCOLS_AVAILABLE",
    "WRONG_SSL_VERSION",
    "TLSV1_ALERT_INSUFFICIENT_SECURITY",
}
_NOT_TLS_REASONS = {
    "WRONG_VERSION_NUMBER",
    "HTTP_REQUEST",
    "PACKET_LENGTH_TOO_LONG",
    "RECORD_LENGTH_MISMATCH",
    "UNKNOWN_PROTOCOL",
}


def classify(exc: BaseException, layer: Layer) -> Failure:
    """Map an exception raised while working at `layer` onto (layer, cause, detail).

    Idempotent: a Failure passes through unchanged.
    """
    if isinstance(exc, Failure):
        return exc
    if isinstance(exc, dns.exception.DNSException):
        return _classify_dns(exc)
    if isinstance(exc, ssl.SSLCertVerificationError):
        cause = _VERIFY_CAUSES.get(exc.verify_code, TLS_UNTRUSTED)
        return Failure(Layer.TLS, cause, f"certificate rejected: {exc.verify_message}")
    if isinstance(exc, ssl.SSLEOFError | ssl.SSLZeroReturnError):
        return Failure(layer, CONNECTION_CLOSED, "peer closed the connection during TLS")
    if isinstance(exc, ssl.SSLError):
        reason = exc.reason or ""
        if reason in _TLS_VERSION_REASONS:
            return Failure(Layer.TLS, TLS_VERSION, f"no TLS version in common ({reason})")
        if reason == "TLSV13_ALERT_CERTIFICATE_REQUIRED":
            return Failure(
                Layer.TLS, TLS_CLIENT_CERTIFICATE, "the server requires a client certificate"
            )
        if reason in _NOT_TLS_REASONS:
            return Failure(Layer.TLS, TLS_NOT_TLS, f"the peer does not speak TLS ({reason})")
        return Failure(Layer.TLS, TLS_HANDSHAKE, f"TLS handshake failed: {reason or exc}")
    if isinstance(exc, TimeoutError | socket.timeout):
        return Failure(layer, TIMEOUT, f"no answer within the deadline ({exc})")
    if isinstance(exc, asyncio.IncompleteReadError | BrokenPipeError) or (
        isinstance(exc, ConnectionError) and exc.errno is None  # asyncio: the peer closed
    ):
        return Failure(layer, CONNECTION_CLOSED, "the peer closed the connection early")
    if isinstance(exc, OSError) and exc.errno in _ERRNO_CAUSES:
        return Failure(layer, _ERRNO_CAUSES[exc.errno], os.strerror(exc.errno))
    if isinstance(exc, OSError):
        return Failure(layer, OS_ERROR, str(exc))
    raise exc  # not a network failure: a bug, reported as an error by the runner


def _classify_dns(exc: dns.exception.DNSException) -> Failure:
    if isinstance(exc, dns.resolver.NXDOMAIN):
        return Failure(Layer.DNS, DNS_NXDOMAIN, f"the name does not exist (NXDOMAIN): {exc}")
    if isinstance(exc, dns.resolver.NoAnswer):
        return Failure(Layer.DNS, DNS_NO_ANSWER, f"the name exists but has no such record: {exc}")
    if isinstance(exc, dns.exception.Timeout):
        return Failure(Layer.DNS, TIMEOUT, f"no DNS answer within the deadline: {exc}")
    if isinstance(exc, dns.resolver.NoNameservers):
        errors = exc.kwargs.get("errors", [])  # (server, tcp, port, error, response)
        if any(isinstance(error, dns.message.ChainTooLong) for *_, error, _ in errors):
            return Failure(Layer.DNS, DNS_CNAME_LOOP, "the CNAME chain loops or is too long")
        rcodes = {resp.rcode() for *_, resp in errors if resp is not None}
        if dns.rcode.SERVFAIL in rcodes:
            return Failure(Layer.DNS, DNS_SERVFAIL, "the resolver answered SERVFAIL")
        if dns.rcode.REFUSED in rcodes:
            return Failure(Layer.DNS, DNS_REFUSED, "the resolver REFUSED the query")
        return Failure(Layer.DNS, DNS_NO_NAMESERVER, f"no nameserver answered: {exc}")
    if isinstance(exc, dns.resolver.NoResolverConfiguration):
        return Failure(Layer.DNS, DNS_NO_NAMESERVER, "no DNS server configured on this host")
    return Failure(Layer.DNS, DNS_ERROR, f"{type(exc).__name__}: {exc}")
