"""How netcheck reaches the network: resolver, proxy, trust store, connections and HTTP.

Shared by the probes. Every blocking call takes its timeout from the check's Deadline,
and every step runs in a Trace phase, so a failure is classified where it happens.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import http.client
import io
import os
import selectors
import socket
import ssl
import threading
import urllib.request
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import unquote, urlsplit

import dns.nameserver
import dns.resolver
import requests.utils
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from netcheck import failures as f
from netcheck import trust
from netcheck.failures import Failure, Layer, Skip
from netcheck.pac import Pac, PacError
from netcheck.profile import TlsPolicy
from netcheck.result import Deadline, Trace
from netcheck.url import is_ip

T = TypeVar("T")
DNS_BACKOFF = 0.1  # dnspython's first back-off between rounds over the nameservers
USER_AGENT = "netcheck/0.1 (+Microsoft 365 activation reachability)"
RECORD = {"ipv4": "A", "ipv6": "AAAA"}
LEGACY = "legacy"  # a TLS context for TLS 1.0/1.1 only (to name what an old server speaks)
TlsVersion = ssl.TLSVersion | Literal["legacy"] | None
# Connect failures over IPv6 that mean the path is broken (not a server refusing).
_IPV6_PATH_FAILURES = {f.TIMEOUT, f.NETWORK_UNREACHABLE, f.HOST_UNREACHABLE}
# Headers only a proxy or filter adds to an answer it generated itself.
PROXY_FINGERPRINTS = (
    "x-squid-error",
    "proxy-status",
    "x-bluecoat-via",
    "x-zscaler-error",
    "x-proxy-error",
    "x-fortigate-error",
)


def _host_port(value: str, default_port: int) -> tuple[str, int]:
    """Split 'host', 'host:port', 'v6', '[v6]:port'."""
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port = rest.removeprefix(":") or str(default_port)
    elif value.count(":") == 1:
        host, port = value.split(":")
    else:
        host, port = value, str(default_port)
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{value!r}: bad port {port!r}")
    return host, int(port)


@dataclass(frozen=True)
class Nameserver:
    ip: str
    port: int = 53

    @classmethod
    def parse(cls, value: str) -> Nameserver:
        """'IP', 'IP:PORT', '[IPv6]:PORT'; raises ValueError."""
        host, port = _host_port(value.strip(), 53)
        if not is_ip(host):
            raise ValueError(f"{value!r} is not an IP address (with an optional :PORT)")
        return cls(host, port)

    def __str__(self) -> str:
        host = f"[{self.ip}]" if ":" in self.ip else self.ip
        return host if self.port == 53 else f"{host}:{self.port}"


@dataclass(frozen=True)
class Proxy:
    host: str
    port: int
    username: str = ""
    password: str = field(default="", repr=False)

    @classmethod
    def parse(cls, value: str) -> Proxy:
        """http://[user:pass@]host:port; raises ValueError."""
        parts = urlsplit(value if "://" in value else f"http://{value}")
        if parts.scheme != "http":
            raise ValueError(f"only http:// proxies are supported, not {parts.scheme}://")
        try:
            port = parts.port
        except ValueError:
            raise ValueError("bad port") from None
        if not parts.hostname or port is None:
            raise ValueError("expected http://[user:pass@]host:port")
        return cls(
            parts.hostname, port, unquote(parts.username or ""), unquote(parts.password or "")
        )

    @property
    def authorization(self) -> str | None:
        if not self.username:
            return None
        token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        return f"Basic {token}"

    def __str__(self) -> str:
        """The proxy as shown in reports: credentials never appear."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        user = f"{self.username}:***@" if self.username else ""
        return f"http://{user}{host}:{self.port}"


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    reason: str
    headers: http.client.HTTPMessage
    body: bytes
    truncated: bool


@dataclass(frozen=True)
class Network:
    """The settings a run uses to reach the network (from options and environment)."""

    nameservers: tuple[Nameserver, ...] = ()
    proxy: Proxy | None = None
    use_env_proxy: bool = True  # HTTPS_PROXY / HTTP_PROXY / NO_PROXY when no --proxy
    ca_bundles: tuple[Path, ...] = ()
    pac: Pac | None = None  # picks the proxy per URL instead of the environment
    # Trust stores and TLS contexts, built once per run and shared by the probes' threads.
    _cache: dict[tuple[object, ...], Any] = field(default_factory=dict, compare=False, repr=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, compare=False, repr=False)

    def _once(self, key: tuple[object, ...], make: Callable[[], T]) -> T:
        with self._lock:
            if key not in self._cache:
                self._cache[key] = make()
            return self._cache[key]

    # --- DNS ---

    @cached_property
    def resolver(self) -> dns.resolver.Resolver:
        if not self.nameservers:
            return dns.resolver.Resolver()  # the system's configuration
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [
            dns.nameserver.Do53Nameserver(n.ip, n.port) for n in self.nameservers
        ]
        return resolver

    def describe_resolver(self) -> str:
        if self.nameservers:
            return ", ".join(map(str, self.nameservers))
        try:
            return "system: " + ", ".join(map(str, self.resolver.nameservers))
        except dns.resolver.NoResolverConfiguration:
            return "system: none configured"

    def query(self, name: str, rdtype: str, deadline: Deadline) -> dns.resolver.Answer:
        """One round over the nameservers, each attempt taking its share of what is left.

        dnspython sleeps a back-off before every further round without looking at the
        lifetime (0.1 s, then up to 2 s), which would overrun the check's deadline.
        """
        left = deadline.remaining()
        resolver = copy.copy(self.resolver)  # a per-call timeout; the shared one stays as is
        share = (left - DNS_BACKOFF) / max(1, len(resolver.nameservers))
        resolver.timeout = max(share, 0.05)
        return resolver.resolve(name, rdtype, lifetime=left, search=False)

    def lookup(self, name: str, rdtype: str, deadline: Deadline) -> list[str]:
        """Addresses (or targets) of one record type; [] if the name has none of that type."""
        try:
            return [rr.to_text() for rr in self.query(name, rdtype, deadline)]
        except dns.resolver.NoAnswer:
            return []

    def addresses(self, host: str, family: str, trace: Trace) -> list[str]:
        """Resolve `host` to the addresses this machine can route to, IPv4 first.

        Over one family, a host that only has addresses of the other family is skipped,
        not failed: an IPv4-only service is not broken for lacking IPv6.
        """
        if is_ip(host):
            return [host]
        with trace.phase("resolve", Layer.DNS):
            v4 = self.lookup(host, "A", trace.deadline) if family != "ipv6" else []
            v6 = self.lookup(host, "AAAA", trace.deadline) if family != "ipv4" else []
            other = "ipv4" if family == "ipv6" else "ipv6"
            elsewhere = (
                family in RECORD
                and not (v4 or v6)
                and self.lookup(host, RECORD[other], trace.deadline)
            )
        trace.note(addresses=", ".join(v4 + v6) or "none")
        if elsewhere:
            raise Skip(f"{host} has no {RECORD[family]} record, only {other} ({elsewhere[0]})")
        if not v4 and not v6:
            wanted = RECORD.get(family, "A or AAAA")
            raise Failure(Layer.DNS, f.DNS_NO_ANSWER, f"{host} has no {wanted} record")
        routable = [a for a in v6 if has_route(a)]
        if family == "ipv6" and not routable:
            raise Skip(f"this host has no IPv6 route (AAAA of {host}: {', '.join(v6)})")
        return v4 + routable

    # --- proxy ---

    def describe_proxy(self) -> str:
        """The proxy setting in effect, for headers and reports (credentials redacted)."""
        if self.proxy or not self.use_env_proxy:
            return str(self.proxy or "none (direct, as --proxy asked)")
        if self.pac:
            return f"chosen per URL by the PAC file {self.pac.source}"
        found = []
        for scheme, value in urllib.request.getproxies().items():
            if scheme in ("http", "https"):
                try:
                    found.append(f"{scheme}: {Proxy.parse(value)}")
                except ValueError:
                    found.append(f"{scheme}: unusable value")
        return "from the environment: " + "; ".join(found) if found else "none"

    def proxy_for(self, url: str, trace: Trace | None = None) -> Proxy | None:
        """--proxy, else the PAC file's choice, else the environment (NO_PROXY honoured)."""
        if self.proxy or not self.use_env_proxy:
            return self.proxy
        if self.pac:
            try:
                answer, chosen = self.pac.choose(url)
            except PacError as exc:
                raise Failure(Layer.PROXY, f.PROXY_ERROR, f"PAC {self.pac.source}: {exc}") from None
            if trace:
                trace.note(pac=f"{self.pac.source}: {answer}")
            origin = "the PAC file"
        else:
            chosen = requests.utils.select_proxy(url, requests.utils.get_environ_proxies(url))
            origin = "the environment"
        if not chosen:
            return None
        try:
            return Proxy.parse(chosen)
        except ValueError as exc:
            raise Failure(
                Layer.PROXY, f.PROXY_ERROR, f"the proxy from {origin} is unusable: {exc}"
            ) from None

    # --- TLS ---

    def ssl_context(
        self, tls_version: TlsVersion = None, only: list[x509.Certificate] | None = None
    ) -> ssl.SSLContext:
        """System trust store plus extra anchors, or `only` these roots; `tls_version` pins
        one version ("legacy": TLS 1.0 and 1.1 only). Chain and host name are always verified.

        Built once per key and shared by all checks: loading trust stores is costly.
        """
        key = ("tls", tls_version, None if only is None else tuple(only))
        return self._once(key, lambda: self._new_context(tls_version, only))

    def _new_context(
        self, tls_version: TlsVersion, only: list[x509.Certificate] | None
    ) -> ssl.SSLContext:
        if only is not None:
            ders = b"".join(c.public_bytes(serialization.Encoding.DER) for c in only)
            ctx = ssl.create_default_context(cadata=ders)
        else:
            ctx = ssl.create_default_context()  # OpenSSL itself honours SSL_CERT_FILE
            for bundle in self.trust_files():
                ctx.load_verify_locations(cafile=bundle)
        if tls_version == LEGACY:
            ctx.set_ciphers("DEFAULT:@SECLEVEL=0")  # OpenSSL 3 refuses TLS < 1.2 else
            with warnings.catch_warnings(category=DeprecationWarning, action="ignore"):
                ctx.minimum_version = ssl.TLSVersion.TLSv1
                ctx.maximum_version = ssl.TLSVersion.TLSv1_1
        elif tls_version:
            ctx.minimum_version = ctx.maximum_version = tls_version
        return ctx

    def trust_anchors(self) -> list[x509.Certificate]:
        """The CA certificates this run trusts (system store and extra bundles)."""
        return self._once(("anchors",), lambda: trust.store_certificates(self.ssl_context()))

    def expected_anchors(self, specs: tuple[str, ...]) -> list[x509.Certificate]:
        """The trusted CA certificates that match the profile's expected roots."""
        return self._once(("expected", specs), lambda: trust.expected(self.trust_anchors(), specs))

    def trust_files(self) -> list[Path]:
        """Extra trust anchors: --ca-bundle and REQUESTS_CA_BUNDLE."""
        env = os.environ.get("REQUESTS_CA_BUNDLE")
        extra = [*self.ca_bundles, *([Path(env)] if env and Path(env).is_file() else [])]
        return list(dict.fromkeys(extra))

    # --- connections ---

    def connect(
        self,
        url: str,
        trace: Trace,
        *,
        family: str = "any",
        tls_version: TlsVersion = None,
        policy: TlsPolicy | None = None,
    ) -> tuple[socket.socket, Proxy | None]:
        """DNS → TCP → (proxy CONNECT) → TLS for https URLs; returns the socket and proxy.

        With expected roots in `policy`, the chain must end at one of them; one that only
        verifies through another locally trusted CA is TLS interception (see netcheck.trust).
        """
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        proxy = self.proxy_for(url, trace)
        if parts.scheme != "https":
            return self._open(host, port, proxy, family, trace, tunnel=False), proxy
        roots = policy.expected_roots if policy else ()
        expected = self.expected_anchors(roots) if roots else []
        if roots and not expected:
            trace.note(tls_interception_check="off: no expected root is in this trust store")
        full = self.ssl_context(tls_version)
        if not expected:
            return self._handshake(host, port, proxy, family, trace, full), proxy
        try:
            ctx = self.ssl_context(tls_version, only=expected)
            sock = self._handshake(host, port, proxy, family, trace, ctx)
        except Failure as exc:
            if exc.cause != f.TLS_UNTRUSTED:
                raise
            trace.note(expected_roots=f"not reached ({exc.detail})")
        else:
            trace.note(expected_roots="reached")
            return sock, proxy
        sock = self._handshake(host, port, proxy, family, trace, full)
        assert policy is not None
        failure = self._interception(sock, proxy)
        if policy.interception == "fail":
            sock.close()
            raise failure
        trace.warn(failure)
        return sock, proxy

    def _handshake(
        self,
        host: str,
        port: int,
        proxy: Proxy | None,
        family: str,
        trace: Trace,
        ctx: ssl.SSLContext,
    ) -> ssl.SSLSocket:
        sock = self._open(host, port, proxy, family, trace, tunnel=True)
        try:
            return self._tls(sock, host, ctx, trace)
        except BaseException:
            sock.close()
            raise

    def _open(
        self, host: str, port: int, proxy: Proxy | None, family: str, trace: Trace, *, tunnel: bool
    ) -> socket.socket:
        """TCP to the origin, or to the proxy (with a CONNECT tunnel if `tunnel`)."""
        if not proxy:
            return self._tcp(host, port, family, trace, Layer.TCP)
        trace.note(proxy=proxy)
        sock = self._tcp(proxy.host, proxy.port, "any", trace, Layer.PROXY)
        if not tunnel:  # plain HTTP goes to the proxy in absolute form
            return sock
        try:
            with trace.phase("proxy", Layer.PROXY):
                _tunnel(sock, f"{host}:{port}", proxy, trace.deadline)
        except BaseException:
            sock.close()
            raise
        return sock

    def _interception(self, sock: socket.socket, proxy: Proxy | None) -> Failure:
        """The failure for a chain that verified, but not up to an expected root."""
        leaf = x509.load_der_x509_certificate(sock.getpeercert(binary_form=True) or b"")  # type: ignore[attr-defined]
        anchor = trust.issuing_anchor(leaf, self.trust_anchors())
        by = trust.common_name(anchor.subject if anchor else leaf.issuer)
        how = (
            f"issued directly by the locally trusted root {anchor.subject.rfc4514_string()}"
            f" ({trust.spki_pin(anchor)})"
            if anchor
            else f"issued by {leaf.issuer.rfc4514_string()}, which chains to a local root"
        )
        via = f" through the proxy {proxy}" if proxy else ""
        return Failure(
            Layer.TLS,
            f.TLS_INTERCEPTION,
            f"TLS inspection by {by}{via}: the certificate is {how}, not by a root the profile "
            "expects",
        )

    def _tcp(self, host: str, port: int, family: str, trace: Trace, layer: Layer) -> socket.socket:
        addresses = self.addresses(host, family, trace)
        first_error: Failure | None = None
        with trace.phase("connect", layer):
            for address in addresses:
                sock = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET)
                try:
                    sock.settimeout(trace.deadline.remaining())
                    sock.connect((address, port))
                except OSError as exc:
                    sock.close()
                    error = f.classify(exc, layer)
                    first_error = first_error or error
                    trace.note(**{f"connect {address}": error.cause})
                    continue
                trace.note(address=f"{address} port {port}")
                return sock
        assert first_error is not None
        if family == "ipv6" and layer is Layer.TCP and first_error.cause in _IPV6_PATH_FAILURES:
            trace.note(ipv6_failure=first_error.cause)
            raise Failure(
                Layer.TCP,
                f.IPV6_BROKEN,
                f"AAAA published ({', '.join(addresses)}), but connecting over IPv6 to port "
                f"{port} failed: {first_error.cause} ({first_error.detail})",
            )
        raise Failure(
            first_error.layer, first_error.cause, f"{host} port {port}: {first_error.detail}"
        )

    def _tls(
        self, sock: socket.socket, host: str, ctx: ssl.SSLContext, trace: Trace
    ) -> ssl.SSLSocket:
        with trace.phase("tls", Layer.TLS):
            try:
                sock.getpeername()
            except OSError:  # reset already: wrap_socket would fail and leave its socket open
                sock.recv(1)  # raises the reset itself
                raise
            tls = ctx.wrap_socket(sock, server_hostname=host, do_handshake_on_connect=False)
            try:
                _handshake(tls, trace.deadline)
            except BaseException:
                tls.close()  # sock's descriptor now belongs to tls
                raise
        trace.note(tls_version=tls.version(), tls_cipher=(tls.cipher() or ("",))[0])
        if der := tls.getpeercert(binary_form=True):
            trace.note(**certificate_evidence(der))
        if chain := trust.chain_as_sent(tls):
            trace.note(certificate_chain=" < ".join(trust.common_name(c.subject) for c in chain))
        return tls

    def get(
        self,
        url: str,
        trace: Trace,
        *,
        max_bytes: int,
        family: str = "any",
        policy: TlsPolicy | None = None,
    ) -> HttpAnswer:
        """GET `url` without following redirects; the body is read up to `max_bytes`."""
        parts = urlsplit(url)
        sock, proxy = self.connect(url, trace, family=family, policy=policy)
        with trace.phase("http", Layer.HTTP):
            host = parts.hostname or ""
            default = 443 if parts.scheme == "https" else 80
            port = parts.port or default
            headers = {
                "Host": host if port == default else f"{host}:{port}",
                "User-Agent": USER_AGENT,
                "Accept-Encoding": "identity",
                "Accept": "*/*",
                "Connection": "close",
            }
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            if proxy and parts.scheme == "http":
                target = url  # absolute form through a forward proxy
                if proxy.authorization:
                    headers["Proxy-Authorization"] = proxy.authorization
            conn = http.client.HTTPConnection(host)
            conn.sock = _DeadlineSocket(sock, trace.deadline)  # type: ignore[assignment]
            try:
                conn.request("GET", target, headers=headers)
                resp = conn.getresponse()
                body = resp.read(max_bytes + 1)
            finally:
                sock.close()
        trace.note(http_status=f"{resp.status} {resp.reason}", body_bytes=len(body))
        if proxy and (resp.status == 407 or any(h in resp.headers for h in PROXY_FINGERPRINTS)):
            raise proxy_refusal(resp.status, resp.reason, resp.headers, f"GET {url}")
        return HttpAnswer(
            resp.status, resp.reason, resp.headers, body[:max_bytes], len(body) > max_bytes
        )


def has_route(address: str) -> bool:
    """Whether the kernel has a route to `address` (a UDP connect sends no packet)."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect((address, 9))
        except OSError:
            return False
    return True


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


def _handshake(tls: ssl.SSLSocket, deadline: Deadline) -> None:
    """The TLS handshake within the deadline as a whole: a blocking handshake would give each
    read the full timeout again, so a server dripping its handshake could hold it forever."""
    tls.setblocking(False)
    with selectors.DefaultSelector() as selector:  # not select(): fds above 1024 are fine
        selector.register(tls, selectors.EVENT_READ)
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                selector.modify(tls, selectors.EVENT_READ)
            except ssl.SSLWantWriteError:
                selector.modify(tls, selectors.EVENT_WRITE)
            if not selector.select(deadline.remaining()):
                raise TimeoutError("the TLS handshake did not finish within the deadline")
    tls.settimeout(deadline.remaining())


def _tunnel(sock: socket.socket, authority: str, proxy: Proxy, deadline: Deadline) -> None:
    """Ask the proxy for a CONNECT tunnel; a refusal is classified by its status."""
    request = f"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: {USER_AGENT}\r\n"
    if proxy.authorization:
        request += f"Proxy-Authorization: {proxy.authorization}\r\n"
    wrapped = _DeadlineSocket(sock, deadline)
    wrapped.sendall(f"{request}\r\n".encode())
    resp = http.client.HTTPResponse(wrapped, method="CONNECT")  # type: ignore[arg-type]
    resp.begin()
    if resp.status == 200:
        return
    raise proxy_refusal(resp.status, resp.reason, resp.headers, f"CONNECT {authority}")


def proxy_refusal(status: int, reason: str, headers: http.client.HTTPMessage, what: str) -> Failure:
    """The failure for an answer a proxy generated itself (407, block page, gateway error)."""
    marked = ("via", *PROXY_FINGERPRINTS)
    marks = "; ".join(f"{k}: {v}" for k, v in headers.items() if k.lower() in marked)
    detail = f"the proxy answered {status} {reason} to {what}" + (f" ({marks})" if marks else "")
    if status == 407:
        return Failure(Layer.PROXY, f.PROXY_AUTH_REQUIRED, detail)
    if status in (403, 405, 451) or "ERR_ACCESS_DENIED" in headers.get("x-squid-error", ""):
        return Failure(Layer.PROXY, f.PROXY_DENIED, detail)
    return Failure(Layer.PROXY, f.PROXY_ERROR, detail)


class _DeadlineSocket:
    """The part of a socket http.client uses, with every read and write bounded by a Deadline.

    A per-operation timeout alone lets a server that drips one byte a second hold a check
    forever; here each operation only gets what is left of the check's total budget.
    """

    def __init__(self, sock: socket.socket, deadline: Deadline) -> None:
        self._sock, self._deadline = sock, deadline

    def sendall(self, data: bytes) -> None:
        self._sock.settimeout(self._deadline.remaining())
        self._sock.sendall(data)

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(_DeadlineReader(self._sock, self._deadline))

    def close(self) -> None:
        """http.client closes "Connection: close" answers before their body is read: the
        owner of the real socket closes it when done."""


class _DeadlineReader(io.RawIOBase):
    def __init__(self, sock: socket.socket, deadline: Deadline) -> None:
        self._sock, self._deadline = sock, deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        self._sock.settimeout(self._deadline.remaining())
        return self._sock.recv_into(buffer)
