"""How netcheck reaches the network, as the client on this machine does: the OS resolver,
the proxy Office uses (with NTLM/Negotiate), the OS trust store, and several addresses
tried as clients try them.

`Network` is the facade the checks use; its parts live beside it: resolve (names), dial
(TCP), proxy and auth (which proxy, and how to get through it), pac, tls (trust and
handshakes), http (requests). Everything is asyncio: a check waiting on the network holds
no thread, and the engine's deadline cancels it wherever it waits.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from dataclasses import dataclass, field

from netcheck import failures as f
from netcheck.failures import Failure, Layer, Skip
from netcheck.host import ipv6
from netcheck.net import dial, tls
from netcheck.net.auth import ProxyAuth, offered
from netcheck.net.http import HttpAnswer, HttpConnection, request_headers
from netcheck.net.pac import Pac, PacError, parse_choice, shown
from netcheck.net.proxy import Proxy, ProxyError, ProxySource, proxy_refusal, reject_proxy_made
from netcheck.net.resolve import Nameserver, Resolver, has_route
from netcheck.profile import TlsPolicy
from netcheck.result import Phase, Trace
from netcheck.url import Url, redact

__all__ = ["HttpAnswer", "Nameserver", "Network", "Proxy", "ProxySource", "has_route"]

# Connect failures over IPv6 that mean the path is broken (not a server refusing).
IPV6_PATH_FAILURES = {f.TIMEOUT, f.NETWORK_UNREACHABLE, f.HOST_UNREACHABLE}
AUTH_ROUNDS = 4  # 407s answered before giving up (NTLM needs two)
AUTH_PAGE = 1 << 20  # a 407 page is read whole (up to this), to keep the connection
CONNECT_BYTES = 65536  # of a proxy's answer to CONNECT (a 407 page, a block page)


@dataclass
class Connection:
    """An open connection to the origin, or to a proxy (tunnelled for https URLs)."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    proxy: Proxy | None = None
    tls: ssl.SSLObject | None = None
    http: HttpConnection = field(init=False)

    def __post_init__(self) -> None:
        self.http = HttpConnection(self.reader, self.writer)

    def close(self) -> None:
        self.writer.transport.abort()


@dataclass
class Network:
    """The run's resolver, proxy setting and trust store (read once, when the run starts)."""

    resolver: Resolver = field(default_factory=Resolver)
    proxies: ProxySource = field(default_factory=lambda: ProxySource("--proxy=none"))
    trust: tls.Trust = field(default_factory=tls.Trust)
    pac: Pac | None = None

    def describe_resolver(self) -> str:
        return self.resolver.describe()

    def describe_proxy(self) -> str:
        if self.pac:
            return f"chosen per URL by the PAC file {redact(self.pac.source)}"
        return self.proxies.describe()

    def close(self) -> None:
        self.resolver.close()
        if self.pac:
            self.pac.close()

    # --- DNS records ---

    async def lookup(self, name: str, rdtype: str, trace: Trace) -> list[str]:
        """A record type of a name, from DNS ([] if the name has none of that type)."""
        return await self.resolver.query(name, rdtype, trace.deadline)

    # --- proxy ---

    async def proxy_for(self, url: Url, trace: Trace) -> Proxy | None:
        if self.pac is None:
            return self.proxies.rules.proxy_for(url)
        # The PAC file answers within the check's deadline, or that is its verdict.
        trace.on_timeout = Failure(
            Layer.PROXY, f.PAC_ERROR, f"the PAC file did not answer for {url} within the deadline"
        )
        try:
            with trace.phase(Phase.PROXY, Layer.PROXY):
                answer = await self.pac.find(str(url))
            trace.note(pac=f"{redact(self.pac.source)}: {shown(answer)}")
            chosen = parse_choice(answer)
            return Proxy.parse(chosen) if chosen else None
        except (PacError, ProxyError) as exc:
            raise Failure(Layer.PROXY, f.PAC_ERROR, f"{self.pac}: {exc}") from None
        finally:
            if not asyncio.current_task().cancelling():  # type: ignore[union-attr]
                trace.on_timeout = None

    # --- connections ---

    async def open(
        self,
        url: Url,
        trace: Trace,
        *,
        family: str = "any",
        tls_version: tls.TlsVersion = None,
        policy: TlsPolicy | None = None,
    ) -> Connection:
        """DNS → TCP → (proxy, with a CONNECT tunnel for https) → TLS for https URLs.

        With expected roots in `policy`, the chain must reach one of them; one that only
        verifies through another locally trusted CA is TLS interception.
        """
        trace.attempt()
        proxy = await self.proxy_for(url, trace)
        tls.CERTIFICATE_REQUESTED.set([])
        if proxy:
            trace.note(proxy=proxy)
            conn = await self._via_proxy(url, proxy, trace)
        else:
            conn = await self._direct(url, family, trace)
        if not url.https:
            return conn
        try:
            with trace.phase(Phase.TLS, Layer.TLS):
                ctx = self.trust.context(tls_version)
                conn.tls = await tls.handshake(conn.writer, url.host, ctx)
                conn.http = HttpConnection(conn.reader, conn.writer)  # HTTP inside the TLS
            trace.note(**tls.evidence(conn.tls))
            if policy and policy.expected_roots and tls_version != tls.LEGACY:
                tls.check_interception(conn.tls, policy, self.trust.anchors(), conn.proxy, trace)
        except BaseException:
            conn.close()
            raise
        return conn

    async def get(
        self,
        url: Url,
        trace: Trace,
        *,
        max_bytes: int,
        family: str = "any",
        policy: TlsPolicy | None = None,
    ) -> HttpAnswer:
        """GET `url` without following redirects; the body is read up to `max_bytes`."""
        conn = await self.open(url, trace, family=family, policy=policy)
        forward = conn.proxy is not None and not url.https  # plain HTTP through the proxy
        try:  # through a forward proxy, only the proxy talks to us: its failures are its own
            with trace.phase(Phase.HTTP, Layer.PROXY if forward else Layer.HTTP):
                if forward:
                    answer = await self._through_proxy(conn, "GET", url, trace, max_bytes)
                else:
                    answer = await conn.http.request(
                        "GET",
                        url.target,
                        request_headers(url.authority),
                        max_bytes=max_bytes,
                        layer=Layer.HTTP,
                    )
        except Failure as exc:
            if tls.CERTIFICATE_REQUESTED.get([]) and exc.cause in (
                f.CONNECTION_CLOSED,
                f.CONNECTION_RESET,
            ):
                raise tls.client_certificate_failure(
                    exc
                ) from None  # TLS 1.3: refused after the handshake
            raise
        finally:
            conn.close()
        trace.note(http_status=f"{answer.status} {answer.reason}", body_bytes=len(answer.body))
        return answer

    # --- direct ---

    async def _direct(self, url: Url, family: str, trace: Trace) -> Connection:
        addresses = await self.resolver.addresses(url.host, family, trace)
        attempts = dial.Attempts(url.host, url.port)
        order = dial.interleave(addresses)
        try:
            with trace.phase(Phase.CONNECT, Layer.TCP, attempts.unanswered):
                if family == "ipv6":
                    sock, address = await self._connect_ipv6(url, addresses, attempts, trace)
                else:
                    sock, address = await dial.connect(addresses, Layer.TCP, attempts)
        finally:
            trace.note(attempts=attempts.evidence(order))
        trace.note(address=f"{address} port {url.port}")
        if warning := dial.dead_addresses_warning(address, attempts, order):
            trace.warn(warning)
        reader, writer = await asyncio.open_connection(sock=sock)
        return Connection(reader, writer)

    async def _connect_ipv6(
        self, url: Url, addresses: list[str], attempts: dial.Attempts, trace: Trace
    ) -> tuple[socket.socket, str]:
        """Over IPv6, a broken path is told apart from a blocked host: when IPv6 does not
        answer at once, IPv4 to the same host is tried beside it, within the same deadline."""
        race = asyncio.ensure_future(dial.connect(addresses, Layer.TCP, attempts))
        cross_check: asyncio.Task[bool | None] | None = None
        try:
            done, _ = await asyncio.wait([race], timeout=dial.ATTEMPT_DELAY)
            if not done:
                cross_check = asyncio.ensure_future(self._ipv4_works(url, trace))
            return await race
        except asyncio.CancelledError:
            race.cancel()
            done = cross_check and cross_check.done() and not cross_check.cancelled()
            if done and (works := cross_check.result()) is not False:  # type: ignore[union-attr]
                reason = "no answer within the deadline"
                trace.on_timeout = _ipv6_broken(url, addresses, f.TIMEOUT, reason, works)
            raise
        except Failure as exc:
            if exc.cause not in IPV6_PATH_FAILURES:
                raise
            raise await self._ipv6_verdict(url, addresses, exc, cross_check, trace) from None
        finally:
            if cross_check:
                cross_check.cancel()

    async def _ipv4_works(self, url: Url, trace: Trace) -> bool | None:
        """Whether a TCP connection to the host over IPv4 works (the same deadline); None
        when the host has no IPv4 address to compare with."""
        probe = Trace(trace.deadline)
        try:
            addresses = await self.resolver.addresses(url.host, "ipv4", probe)
            sock, _ = await dial.connect(addresses, Layer.TCP, dial.Attempts(url.host, url.port))
        except Skip:
            return None
        except Failure:
            return False
        sock.close()
        return True

    async def _ipv6_verdict(
        self,
        url: Url,
        addresses: list[str],
        exc: Failure,
        cross_check: asyncio.Task[bool | None] | None,
        trace: Trace,
    ) -> Failure:
        """An IPv6 path failure is `ipv6_broken` where IPv4 to the same host works, or where
        the host has no IPv4 to compare with (an IPv6-only probe such as NCSI's)."""
        works = await (cross_check or self._ipv4_works(url, trace))
        trace.note(
            ipv4_check={True: "IPv4 connects", False: "IPv4 fails too"}.get(
                works, "no IPv4 address"
            )
        )
        if works is not False:
            return _ipv6_broken(url, addresses, exc.cause, exc.detail, works)
        return Failure(exc.layer, exc.cause, f"{exc.detail}; IPv4 fails too: not an IPv6 problem")

    # --- through a proxy ---

    async def _via_proxy(self, url: Url, proxy: Proxy, trace: Trace) -> Connection:
        conn = await self._dial_proxy(proxy, trace)
        conn.proxy = proxy
        if not url.https:  # plain HTTP goes to the proxy in absolute form (see get)
            return conn
        with trace.phase(Phase.PROXY, Layer.PROXY):
            try:
                answer = await self._through_proxy(conn, "CONNECT", url, trace, CONNECT_BYTES)
            except BaseException:
                conn.close()
                raise
        if not 200 <= answer.status < 300:
            conn.close()
            raise proxy_refusal(answer, f"CONNECT {url.host_port}")
        return conn

    async def _dial_proxy(self, proxy: Proxy, trace: Trace) -> Connection:
        """TCP to the proxy; its DNS and TCP failures are the proxy's, not the endpoint's."""
        attempts, addresses = dial.Attempts(proxy.host, proxy.port), []
        try:
            addresses = await self.resolver.addresses(proxy.host, "any", Trace(trace.deadline))
            with trace.phase(Phase.CONNECT, Layer.PROXY, attempts.unanswered):
                sock, address = await dial.connect(addresses, Layer.PROXY, attempts)
        except Failure as exc:
            raise Failure(Layer.PROXY, exc.cause, f"the proxy {proxy}: {exc.detail}") from None
        finally:
            if addresses:
                trace.note(attempts=attempts.evidence(dial.interleave(addresses)))
        trace.note(address=f"{address} port {proxy.port} (the proxy)")
        reader, writer = await asyncio.open_connection(sock=sock)
        return Connection(reader, writer, proxy)

    async def _through_proxy(
        self, conn: Connection, method: str, url: Url, trace: Trace, max_bytes: int
    ) -> HttpAnswer:
        """A request to the proxy (CONNECT, or a GET in absolute form), answering its 407s
        with Negotiate, NTLM or Basic as it offers them, on the same connection."""
        assert conn.proxy is not None
        auth = ProxyAuth(conn.proxy.host, conn.proxy.credentials)
        connect = method == "CONNECT"
        target = url.host_port if connect else str(url)  # CONNECT's, or the absolute form
        authority = url.host_port if connect else url.authority
        what, extra = f"{method} {target}", []

        # A plain-HTTP answer the proxy made itself is refused as soon as its head arrives.
        def inspect(head: HttpAnswer) -> int | None:
            if head.status == 407:
                return AUTH_PAGE
            if not connect:
                reject_proxy_made(head, what)
            return None

        for _ in range(AUTH_ROUNDS):
            answer = await conn.http.request(
                method,
                target,
                request_headers(authority, *extra),
                max_bytes=max_bytes,
                layer=Layer.PROXY,
                inspect=inspect,
            )
            if answer.status != 407:
                if auth.scheme:
                    trace.note(proxy_auth=auth.scheme)
                return answer
            challenge = offered(answer.values("proxy-authenticate"))
            mid_handshake = bool(extra) and auth.scheme in ("ntlm", "negotiate")
            extra = [("Proxy-Authorization", auth.respond(challenge, what))]
            if not conn.http.reusable:  # the proxy closed the connection after its 407
                if mid_handshake:
                    raise Failure(
                        Layer.PROXY,
                        f.PROXY_AUTH_FAILED,
                        f"the proxy closed the connection during {auth.scheme} authentication",
                    )
                fresh = await self._dial_proxy(conn.proxy, trace)
                conn.close()
                conn.reader, conn.writer, conn.http = fresh.reader, fresh.writer, fresh.http
        raise Failure(
            Layer.PROXY, f.PROXY_AUTH_FAILED, f"the proxy kept asking for credentials ({what})"
        )


def _ipv6_broken(
    url: Url, addresses: list[str], cause: str, detail: str, ipv4: bool | None
) -> Failure:
    compared = f"while IPv4 to {url.host} connects" if ipv4 else "and it has no IPv4 address"
    return Failure(
        Layer.TCP,
        f.IPV6_BROKEN,
        f"AAAA published ({', '.join(addresses)}), but connecting over IPv6 to port {url.port} "
        f"failed: {cause} ({detail}), {compared}{ipv6.this_machine()}",
    )
