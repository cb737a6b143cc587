"""Authoritative UDP+TCP DNS server for a fixed in-memory zone, with injectable faults."""

from __future__ import annotations

import socket
import struct
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.resolver
import dns.rrset

from ._base import TCPServer, host_port

Fault = Literal["servfail", "refused", "timeout", "nodata", "truncate"]


@dataclass
class ZoneEntry:
    """Records of one name. ``fault`` overrides the answer:

    servfail/refused -> that rcode; timeout -> no reply at all; nodata -> NOERROR, empty
    answer; truncate -> UDP reply with TC set and no answer (full answer over TCP).
    """

    a: list[str] = field(default_factory=list)
    aaaa: list[str] = field(default_factory=list)
    cname: str | None = None
    txt: list[str] = field(default_factory=list)
    fault: Fault | None = None
    ttl: int = 60


@dataclass(frozen=True)
class Query:
    """One received question."""

    name: str
    rdtype: str
    transport: Literal["udp", "tcp"]


def _key(name: str | dns.name.Name) -> str:
    return str(name).lower().rstrip(".")


class DNSServer(TCPServer):
    """DNS on UDP and TCP ``address:port`` answering from ``records`` (FQDN -> ZoneEntry).

    Unknown names get NXDOMAIN; CNAME chains are followed inside the zone (loops stop).
    ``queries`` counts questions per name, ``log`` keeps every :class:`Query`.
    """

    def __init__(
        self,
        records: Mapping[str, ZoneEntry] | None = None,
        address: str = "127.0.0.1",
        port: int = 53,
    ) -> None:
        super().__init__(address, port)
        self.records: dict[str, ZoneEntry] = {_key(k): v for k, v in (records or {}).items()}
        self.queries: Counter[str] = Counter()
        self.log: list[Query] = []
        self._log_lock = threading.Lock()

    @property
    def nameserver(self) -> str:
        """``IP:PORT`` (``[IPv6]:PORT``)."""
        return host_port(self.address, self.port)

    def set(self, name: str, entry: ZoneEntry) -> None:
        """Add or replace the records of *name* (takes effect immediately)."""
        self.records[_key(name)] = entry

    add = set

    def remove(self, name: str) -> None:
        self.records.pop(_key(name), None)

    def resolver(self, **attrs: object) -> dns.resolver.Resolver:
        """A dnspython resolver pointed at this server (extra attributes set as given)."""
        res = dns.resolver.Resolver(configure=False)
        res.nameservers = [self.address]
        res.port = self.port
        res.lifetime = 2.0
        for attr, value in attrs.items():
            setattr(res, attr, value)
        return res

    def resolve(self, host: str) -> str:
        """First A record of *host* via this server; ``socket.gaierror`` if none.

        Drop-in for ``socket.gethostbyname`` (e.g. as the HTTPProxy resolver).
        """
        try:
            return self.resolver().resolve(host, "A")[0].to_text()
        except dns.exception.DNSException as exc:
            raise socket.gaierror(socket.EAI_NONAME, f"{host}: {exc}") from exc

    # -- serving -----------------------------------------------------------------------

    def _start(self) -> None:
        super()._start()  # TCP first: resolves port 0, UDP reuses the number
        self._udp = self._bind(socket.SOCK_DGRAM)
        # Room for a burst of queries: a run asks hundreds at once, as a real resolver sees.
        self._udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self._spawn(self._udp_loop)

    def _udp_loop(self) -> None:
        while True:
            try:
                wire, peer = self._udp.recvfrom(65535)
            except OSError:
                return
            if self._stopping.is_set():
                return
            reply = self.answer(wire, "udp")
            if reply is not None:
                self._udp.sendto(reply, peer)

    def handle(self, conn: socket.socket) -> None:
        """TCP: length-prefixed messages until the client closes."""
        while (size := _recv_exact(conn, 2)) and (
            wire := _recv_exact(conn, struct.unpack("!H", size)[0])
        ):
            reply = self.answer(wire, "tcp")
            if reply is not None:
                conn.sendall(struct.pack("!H", len(reply)) + reply)

    def answer(self, wire: bytes, transport: Literal["udp", "tcp"]) -> bytes | None:
        """Wire-format reply to *wire*, or None to stay silent."""
        try:
            query = dns.message.from_wire(wire)
            question = query.question[0]
        except (dns.exception.DNSException, IndexError):
            return None
        with self._log_lock:
            self.queries[_key(question.name)] += 1
            self.log.append(
                Query(_key(question.name), dns.rdatatype.to_text(question.rdtype), transport)
            )
        reply = dns.message.make_response(query)
        reply.flags |= dns.flags.AA | dns.flags.RA
        name, seen = question.name, set[str]()
        while True:
            entry = self.records.get(_key(name))
            if entry is None:
                reply.set_rcode(dns.rcode.NXDOMAIN)
                break
            match entry.fault:
                case "timeout":
                    return None
                case "servfail" | "refused":
                    reply.answer.clear()
                    reply.set_rcode(dns.rcode.from_text(entry.fault))
                    break
                case "nodata":
                    break
                case "truncate" if transport == "udp":
                    reply.answer.clear()
                    reply.flags |= dns.flags.TC
                    break
            if entry.cname and question.rdtype != dns.rdatatype.CNAME:
                target = dns.name.from_text(entry.cname)
                reply.answer.append(_rrset(name, entry.ttl, "CNAME", [target.to_text()]))
                seen.add(_key(name))
                if _key(target) in seen:
                    break
                name = target
                continue
            values = _values(entry, dns.rdatatype.to_text(question.rdtype))
            if values:
                reply.answer.append(_rrset(name, entry.ttl, question.rdtype, values))
            break
        return reply.to_wire()


def _values(entry: ZoneEntry, rdtype: str) -> list[str]:
    """Zone-file text of the entry's records of *rdtype*."""
    match rdtype:
        case "A":
            return entry.a
        case "AAAA":
            return entry.aaaa
        case "CNAME":
            return [entry.cname.rstrip(".") + "."] if entry.cname else []
        case "TXT":
            return ['"' + t.replace("\\", "\\\\").replace('"', '\\"') + '"' for t in entry.txt]
    return []


def _rrset(
    name: dns.name.Name, ttl: int, rdtype: str | dns.rdatatype.RdataType, values: list[str]
) -> dns.rrset.RRset:
    rdatas = [dns.rdata.from_text(dns.rdataclass.IN, rdtype, v, relativize=False) for v in values]
    return dns.rrset.from_rdata_list(name, ttl, rdatas)


def _recv_exact(conn: socket.socket, size: int) -> bytes:
    """Exactly *size* bytes, or b"" if the peer closed first."""
    buf = b""
    while len(buf) < size:
        chunk = conn.recv(size - len(buf))
        if not chunk:
            return b""
        buf += chunk
    return buf
