"""Names to addresses, as the client resolves them.

By default the addresses a check connects to come from the operating system's resolver
(`getaddrinfo`), as Office's do: the hosts file, NRPT rules, the DNS client cache and the
OS's own DNS settings all count. DNS itself (dnspython, asking the system's nameservers)
runs beside it: it classifies a failure (NXDOMAIN, SERVFAIL, silent server, ...), shows
when the OS answers differently, and answers the record checks (MSOID CNAME, NCSI DNS).
With --nameserver, DNS alone answers: "ask this server only".

An answer of 0.0.0.0, ::, 127.0.0.0/8, ::1 (or an address listed as a block page) is a
name blocked by a DNS filter or a hosts-file entry, never something to connect to.
"""

from __future__ import annotations

import asyncio
import copy
import ipaddress
import socket
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import dns.asyncresolver
import dns.exception
import dns.nameserver
import dns.resolver

from netcheck import failures as f
from netcheck.failures import Failure, Layer, Skip, classify
from netcheck.host import ipv6
from netcheck.result import Deadline, Phase, Trace
from netcheck.url import is_ip

RECORD = {"ipv4": "A", "ipv6": "AAAA"}
FAMILY = {"ipv4": socket.AF_INET, "ipv6": socket.AF_INET6}
SINKHOLES = tuple(
    ipaddress.ip_network(n) for n in ("0.0.0.0/8", "127.0.0.0/8", "::/128", "::1/128")
)
# getaddrinfo blocks: it runs in threads, at most this many at once. A lookup still queued
# when its check's deadline comes was held up by this machine, not by the network.
RESOLVER_THREADS = 64
DNS_BACKOFF = 0.1  # dnspython's first back-off between rounds over the nameservers
UNBOUNDED = 3600.0
DNS_ATTEMPT = 1.0  # a query unanswered this long is sent again (Windows' first retry: 1 s)


@dataclass(frozen=True)
class Nameserver:
    ip: str
    port: int = 53

    @classmethod
    def parse(cls, value: str) -> Nameserver:
        """'IP', 'IP:PORT', '[IPv6]:PORT'; raises ValueError."""
        text = value.strip()
        if text.startswith("["):
            host, _, rest = text[1:].partition("]")
            port = rest.removeprefix(":") or "53"
        elif text.count(":") == 1:
            host, port = text.split(":")
        else:
            host, port = text, "53"
        if not is_ip(host):
            raise ValueError(f"{value!r} is not an IP address (with an optional :PORT)")
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{value!r}: bad port {port!r}")
        return cls(host, int(port))

    def __str__(self) -> str:
        host = f"[{self.ip}]" if ":" in self.ip else self.ip
        return host if self.port == 53 else f"{host}:{self.port}"


def plain(address: str) -> str:
    """An address in its normal form; an IPv4-mapped IPv6 address (::ffff:a.b.c.d) is the
    IPv4 address it carries, which is where a connection to it goes."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        return str(ip.ipv4_mapped)
    return str(ip)


def blocked(address: str, block_pages: Iterable[str] = ()) -> bool:
    ip = ipaddress.ip_address(plain(address))
    return any(ip in net for net in SINKHOLES) or str(ip) in block_pages


def usable_v6(address: str) -> bool:
    """An IPv6 address this machine can connect to: routed, and not link-local (which needs
    an interface to go with it)."""
    return not ipaddress.ip_address(address).is_link_local and has_route(address)


def has_route(address: str) -> bool:
    """Whether the kernel has a route to `address` (a UDP connect sends no packet)."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect((address, 9))
        except OSError:
            return False
    return True


class Resolver:
    """The run's resolver settings, read once (the system's DNS configuration included)."""

    def __init__(self, nameservers: tuple[Nameserver, ...] = (), block_pages: Iterable[str] = ()):
        self.nameservers = nameservers
        self.block_pages = frozenset(map(plain, block_pages))
        if nameservers:
            self.dns = dns.asyncresolver.Resolver(configure=False)
            self.dns.nameservers = [
                dns.nameserver.Do53Nameserver(n.ip, n.port) for n in nameservers
            ]
        else:
            try:
                self.dns = dns.asyncresolver.Resolver()  # the system's configuration
            except dns.resolver.NoResolverConfiguration:
                self.dns = dns.asyncresolver.Resolver(configure=False)
        self._threads = ThreadPoolExecutor(RESOLVER_THREADS, thread_name_prefix="netcheck-resolve")

    @property
    def uses_os(self) -> bool:
        return not self.nameservers

    def describe(self) -> str:
        if self.nameservers:
            return f"{', '.join(map(str, self.nameservers))} only (--nameserver)"
        servers = ", ".join(str(getattr(n, "address", n)) for n in self.dns.nameservers)
        return f"the system resolver (hosts file, OS settings; DNS: {servers or 'none'})"

    # --- DNS records ---

    async def query(self, name: str, rdtype: str, deadline: Deadline) -> list[str]:
        """One record type from DNS; [] if the name has none of that type.

        Each attempt waits at most DNS_ATTEMPT, or its share of what is left when that is
        less, so every nameserver is asked within the deadline and a lost packet is sent
        again, as stub resolvers do.
        """
        left = deadline.remaining()
        resolver = copy.copy(self.dns)  # a per-call timeout; the shared one stays as is
        share = (left - DNS_BACKOFF) / max(1, len(resolver.nameservers))
        resolver.timeout = max(min(share, DNS_ATTEMPT), 0.05)
        try:
            # No lifetime of its own: the check's deadline (which the engine may extend) ends it.
            answer = await resolver.resolve(name, rdtype, lifetime=UNBOUNDED, search=False)
        except dns.resolver.NoAnswer:
            return []
        return [rr.to_text() for rr in answer]

    # --- addresses to connect to ---

    async def addresses(self, host: str, family: str, trace: Trace) -> list[str]:
        """The addresses a client on this machine would connect to: over one family
        ("ipv4", "ipv6"), or "any" (no IPv6 route here: IPv4, else routable IPv6).

        Over one family, a host that only has addresses of the other family is skipped, not
        failed: an IPv4-only service is not broken for lacking IPv6. A blocked answer (a
        sinkhole, a block page) fails whatever the family it came in.
        """
        if is_ip(host):
            return [plain(host)]
        with trace.phase(Phase.RESOLVE, Layer.DNS):
            answer = await self._answer(host, family, trace)
        trace.note(addresses=", ".join(answer))
        if sinks := [a for a in answer if blocked(a, self.block_pages)]:
            raise Failure(Layer.DNS, f.DNS_BLOCKED, await self._blocked(host, sinks, trace))
        return await self._of_family(host, family, answer, trace)

    async def _answer(self, host: str, family: str, trace: Trace) -> list[str]:
        """What the resolver answers for the name, as the client asks: IPv4 where this
        machine has no IPv6 route; both families for an IPv6 check (a client with IPv6 asks
        for both, and a hosts-file pin of either family is then the whole answer). AAAA
        trouble thus shows on IPv6 checks only."""
        if not self.uses_os:
            records = ("AAAA",) if family == "ipv6" else ("A",)
            found = [a for rdtype in records for a in await self._dns_only(host, rdtype, trace)]
            if not found and family == "any":
                found = await self._dns_only(host, "AAAA", trace)
            return found
        return await self._os(host, family, trace)

    async def _of_family(
        self, host: str, family: str, answer: list[str], trace: Trace
    ) -> list[str]:
        v4 = [a for a in answer if ":" not in a]
        v6 = [a for a in answer if ":" in a]
        if (family == "ipv4" and not v4) or (family == "ipv6" and not v6):
            mine, other = ("A", "AAAA") if family == "ipv4" else ("AAAA", "A")
            if answer:
                # AAAA trouble the OS hid by answering A only fails here, with its cause.
                v6 = await self._dns_only(host, "AAAA", trace) if family == "ipv6" else []
                if v6 and self.uses_os:
                    raise Skip(
                        f"this machine resolves {host} to IPv4 only ({answer[0]}), though "
                        f"DNS has AAAA {v6[0]}: a hosts-file entry or a DNS policy"
                    )
                raise Skip(f"{host} resolves to {other} addresses only here ({answer[0]})")
            if elsewhere := await self._dns_only(host, other, trace):
                raise Skip(f"{host} has no {mine} record, only {other} ({elsewhere[0]})")
            raise Failure(Layer.DNS, f.DNS_NO_ANSWER, f"{host} has no A or AAAA record")
        if family == "ipv4":
            return v4
        usable = [a for a in v6 if usable_v6(a)]
        if family == "ipv6":
            if not usable:
                why = (
                    "a link-local address"
                    if all(ipaddress.ip_address(a).is_link_local for a in v6)
                    else "no IPv6 route"
                )
                raise Skip(f"{host}: this machine has {why} for it (AAAA: {', '.join(v6)})")
            return usable
        if not v4 and not usable:
            if not v6:
                raise Failure(Layer.DNS, f.DNS_NO_ANSWER, f"{host} has no A or AAAA record")
            raise Failure(
                Layer.TCP,
                f.NO_IPV6_ROUTE,
                f"{host} has only IPv6 addresses ({', '.join(v6)}) and this machine has no "
                f"IPv6 route to them{ipv6.this_machine()}",
            )
        return v4 + usable

    async def _dns_only(self, host: str, rdtype: str, trace: Trace) -> list[str]:
        try:
            return [plain(a) for a in await self.query(host, rdtype, trace.deadline)]
        except dns.exception.DNSException as exc:
            failure = classify(exc, Layer.DNS)
            raise Failure(failure.layer, failure.cause, f"{host}: {failure.detail}") from None

    async def _os(self, host: str, family: str, trace: Trace) -> list[str]:
        """getaddrinfo gives the addresses; DNS, asked at the same time, explains a failure
        and shows a different answer (it finishes in the background if the OS is faster)."""
        rdtype = "AAAA" if family == "ipv6" else "A"
        dns_answer = asyncio.ensure_future(self.query(host, rdtype, trace.deadline))
        trace.finishers.append(lambda: _compare(host, trace, dns_answer))
        os_family = socket.AF_UNSPEC if family == "ipv6" else socket.AF_INET
        try:
            return await self._getaddrinfo(host, os_family, trace)
        except socket.gaierror as exc:
            os_error = exc
        try:
            answer = await dns_answer
        except dns.exception.DNSException as exc:
            failure = classify(exc, Layer.DNS)
            raise Failure(failure.layer, failure.cause, f"{host}: {failure.detail}") from None
        if not answer:  # no record of this family: _of_family says what that means
            return await self._os_ipv6_only(host, trace) if family == "any" else []
        raise Failure(
            Layer.DNS,
            f.DNS_OS_OVERRIDE,
            f"this machine cannot resolve {host} ({os_error.strerror}), yet its DNS servers "
            f"answer {rdtype} {', '.join(answer)}: a hosts file, an NRPT rule, a VPN's DNS "
            "policy or a local DNS filter decides differently on this machine",
        )

    async def _os_ipv6_only(self, host: str, trace: Trace) -> list[str]:
        """A name with no IPv4 address, on a machine without an IPv6 route: its IPv6
        addresses, as the OS resolves them (to say it cannot be reached from here)."""
        try:
            return await self._getaddrinfo(host, socket.AF_INET6, trace)
        except socket.gaierror:
            return []

    async def _getaddrinfo(self, host: str, family: int, trace: Trace) -> list[str]:
        started = asyncio.Event()
        loop = asyncio.get_running_loop()

        def lookup() -> list[tuple]:
            loop.call_soon_threadsafe(started.set)
            return socket.getaddrinfo(
                host, None, family, socket.SOCK_STREAM, flags=socket.AI_CANONNAME
            )

        try:
            infos = await loop.run_in_executor(self._threads, lookup)
        except asyncio.CancelledError:
            trace.overloaded = trace.overloaded or not started.is_set()
            raise
        canonical = (infos[0][3] if infos else "").rstrip(".").lower()
        if canonical.startswith(f"{host}."):  # a search domain was appended (ndots)
            trace.note(resolved_as=canonical)
        return list(dict.fromkeys(plain(str(info[4][0])) for info in infos))

    async def _blocked(self, host: str, sinks: list[str], trace: Trace) -> str:
        """Who blocks the name: the DNS servers (a filter), or this machine (what DNS
        answers is fine, so a hosts file or a DNS policy decides otherwise)."""
        said = f"{host} resolves to {', '.join(sinks)}: blocked"
        if not self.uses_os:
            return f"{said} by the DNS server (a DNS filter or sinkhole)"
        rdtype = "AAAA" if ":" in sinks[0] else "A"
        try:
            answer = await self.query(host, rdtype, trace.deadline)
        except (dns.exception.DNSException, TimeoutError):
            answer = []
        if answer and not any(blocked(a, self.block_pages) for a in answer):
            trace.note(dns_answer=", ".join(answer))
            return (
                f"{said} on this machine (a hosts-file entry, an NRPT rule or a local filter): "
                f"its DNS servers answer {', '.join(answer)}"
            )
        return f"{said} by the DNS servers this machine uses (a DNS filter or sinkhole)"

    def close(self) -> None:
        self._threads.shutdown(wait=False, cancel_futures=True)


def _compare(host: str, trace: Trace, dns_answer: asyncio.Future[list[str]]) -> str:
    """Evidence of what DNS answered beside the OS; a hint for a failure's detail when
    this machine resolves the name elsewhere than DNS does."""
    if not dns_answer.done():
        dns_answer.cancel()
        return ""
    if dns_answer.cancelled() or dns_answer.exception() or "addresses" not in trace.evidence:
        return ""
    answer, os_answer = dns_answer.result(), trace.evidence["addresses"].split(", ")
    if not answer or set(answer) & set(os_answer):
        return ""
    trace.note(dns_answer=", ".join(answer))
    if searched := trace.evidence.get("resolved_as"):
        why = f"it resolved the name as {searched}: a search domain was appended"
    else:
        why = "a hosts-file entry, an NRPT rule or a VPN's DNS policy points it elsewhere"
    return (
        f"this machine resolves {host} to {', '.join(os_answer)} while its DNS servers "
        f"answer {', '.join(answer)}: {why}"
    )
