"""HTTP(S) server with scripted responses, TCP-level fault server and a SYN-dropping port."""

from __future__ import annotations

import contextlib
import socket
import ssl
import struct
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal

from ._base import TCPServer, family_of, host_port
from ._http import Head, format_head, read_head


@dataclass(frozen=True)
class Request:
    """One request received by :class:`WebServer`."""

    method: str
    path: str
    host: str | None
    headers: list[tuple[str, str]]
    body: bytes = b""


@dataclass
class Response:
    """A scripted response.

    ``drip``: send the head one byte per ``drip`` seconds. ``endless``: no Content-Length,
    repeat ``body`` (or filler) until the client goes away. ``raw``: send these bytes
    verbatim instead of an HTTP response. ``body_delay``: pause between head and body.
    """

    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    reason: str | None = None
    drip: float | None = None
    endless: bool = False
    raw: bytes | None = None
    body_delay: float = 0

    @classmethod
    def redirect(cls, location: str, status: int = 302) -> Response:
        return cls(status, headers={"Location": location})

    def head(self) -> bytes:
        headers = dict(self.headers)
        if not self.endless:
            headers.setdefault("Content-Length", str(len(self.body)))
        headers.setdefault("Connection", "close")
        return format_head(self.status, headers.items(), self.reason)


Handler = Callable[[Request], Response]
RouteKey = str | tuple[str, str]
NOT_FOUND = Response(404, b"not found\n")


class WebServer(TCPServer):
    """One-request-per-connection HTTP/1.1 server (HTTPS if ``tls`` is given).

    ``routes`` maps ``path`` or ``(host, path)`` (host without port, lowercase; path with
    or without query) to a :class:`Response` or a callable ``Request -> Response``; ``"*"``
    is the fallback, else 404. Every request is appended to ``requests``.
    """

    def __init__(
        self,
        address: str = "127.0.0.1",
        port: int = 0,
        *,
        tls: ssl.SSLContext | None = None,
        routes: Mapping[RouteKey, Response | Handler] | None = None,
    ) -> None:
        super().__init__(address, port, tls=tls)
        self.routes: dict[RouteKey, Response | Handler] = dict(routes or {})
        self.requests: list[Request] = []

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{host_port(self.address, self.port)}"

    def route(self, path: str, response: Response | Handler, host: str | None = None) -> None:
        """Add or replace a route while running."""
        self.routes[(host.lower(), path) if host else path] = response

    def handle(self, conn: socket.socket) -> None:
        got = read_head(conn)
        if got is None:
            return
        raw_head, body = got
        head = Head.parse(raw_head)
        if len(head.start) != 3:
            return
        length = int(head.get("Content-Length") or 0)
        while len(body) < length and (chunk := conn.recv(65536)):
            body += chunk
        host = head.get("Host")
        request = Request(head.start[0], head.start[1], host, head.headers, body)
        self.requests.append(request)
        response = self._lookup(request)
        self._send(conn, response(request) if callable(response) else response)

    def _lookup(self, request: Request) -> Response | Handler:
        host = request.host or ""  # drop the port: "name:80", "[::1]:80"
        host = host[1:].partition("]")[0] if host.startswith("[") else host.partition(":")[0]
        host = host.lower()
        path = request.path.split("?", 1)[0]
        for key in ((host, request.path), (host, path), request.path, path, "*"):
            if key in self.routes:
                return self.routes[key]
        return NOT_FOUND

    def _send(self, conn: socket.socket, response: Response) -> None:
        if response.raw is not None:
            conn.sendall(response.raw)
            return
        head = response.head()
        if response.drip is not None:
            for byte in head:
                conn.sendall(bytes([byte]))
                if self._stopping.wait(response.drip):
                    return
            head = b""
        if response.body_delay:
            conn.sendall(head)
            head = b""
            if self._stopping.wait(response.body_delay):
                return
        if not response.endless:
            conn.sendall(head + response.body)
            return
        conn.sendall(head)
        chunk = response.body or b"x" * 16384
        while not self._stopping.is_set():
            conn.sendall(chunk)


Behaviour = Literal[
    "reset", "reset_after_hello", "close", "silent", "garbage", "stall_tls", "answer"
]


class RawServer(TCPServer):
    """TCP-level faults after accept.

    reset: RST at once (SO_LINGER 0). reset_after_hello: read the first bytes (a TLS
    ClientHello), then RST, as SNI-filtering firewalls do. close: clean FIN before any
    byte. silent: never read nor send. garbage: send ``payload`` (not TLS) then wait.
    stall_tls: read (ClientHello) forever, never answer. answer: read the client's first
    bytes, send ``payload``, read once more, then close (a proxy that refuses CONNECT, or
    accepts it and closes the tunnel on the ClientHello).
    """

    def __init__(
        self,
        address: str = "127.0.0.1",
        port: int = 0,
        behaviour: Behaviour = "reset",
        *,
        payload: bytes = b"SSH-2.0-garbage\r\n\x00\xff not TLS \r\n",
    ) -> None:
        super().__init__(address, port)
        self.behaviour = behaviour
        self.payload = payload
        self.accepted = 0

    def handle(self, conn: socket.socket) -> None:
        with self._lock:
            self.accepted += 1
        match self.behaviour:
            case "reset" | "reset_after_hello":
                if self.behaviour == "reset_after_hello":
                    conn.recv(4096)
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return  # the close that follows sends RST
            case "close":
                conn.shutdown(socket.SHUT_WR)  # FIN now; drain so close() never RSTs
            case "silent":
                self._stopping.wait()
                return
            case "garbage":
                conn.sendall(self.payload)
            case "answer":
                conn.recv(65536)
                conn.sendall(self.payload)
                conn.recv(65536)
                return
        self._drain(conn)


@contextlib.contextmanager
def dropped_port(address: str = "127.0.0.1", port: int = 0) -> Iterator[tuple[str, int]]:
    """A port whose SYNs are silently dropped, so ``connect()`` times out.

    Mechanism (no nftables needed): a ``listen(0)`` socket that never accepts, with its
    accept queue filled by one connection; Linux then drops further SYNs (checked with
    ``tcp_abort_on_overflow=0``, the default). Yields ``(address, port)``.
    """
    family = family_of(address)
    with (
        socket.socket(family, socket.SOCK_STREAM) as listener,
        socket.socket(family, socket.SOCK_STREAM) as filler,
    ):
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((address, port))
        listener.listen(0)
        filler.connect(listener.getsockname()[:2])
        yield address, listener.getsockname()[1]
