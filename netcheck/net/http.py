"""HTTP/1.1 over a connection: requests and answers parsed by h11 (python-hyper's sans-I/O
HTTP/1.1), so netcheck times and classifies each step itself. Bodies are read up to a cap
and never decompressed (`Accept-Encoding: identity`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, replace

import h11

from netcheck import failures as f
from netcheck.failures import Failure, Layer

USER_AGENT = "netcheck/0.2 (+Microsoft 365 activation reachability)"
READ_SIZE = 65536


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    reason: str
    headers: dict[str, str]  # lower-case names; repeated headers joined with ", "
    all_headers: list[tuple[str, str]]  # as sent
    body: bytes
    truncated: bool

    def values(self, name: str) -> list[str]:
        return [v for k, v in self.all_headers if k.lower() == name]


class HttpConnection:
    """One HTTP/1.1 connection; several requests in turn where the server keeps it open
    (authentication handshakes need that)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self._h11 = h11.Connection(h11.CLIENT)

    @property
    def reusable(self) -> bool:
        return self._h11.our_state is h11.IDLE

    async def request(
        self,
        method: str,
        target: str,
        headers: list[tuple[str, str]],
        *,
        max_bytes: int,
        layer: Layer,
        inspect: Callable[[HttpAnswer], int | None] | None = None,
    ) -> HttpAnswer:
        """Send a request and read its answer (the body up to `max_bytes`). Errors are
        failures at `layer`; a 2xx answer to CONNECT leaves the connection as a tunnel.
        `inspect` sees the answer's head before its body: it may refuse it (raise), or say
        how much of the body to read instead (a proxy's 407 page is read whole, so that
        the connection serves the next leg of the authentication)."""
        try:
            data = self._h11.send(h11.Request(method=method, target=target, headers=headers))
            data += self._h11.send(h11.EndOfMessage())
        except h11.LocalProtocolError as exc:
            raise ValueError(f"cannot send {method} {target}: {exc}") from None
        self.writer.write(data)
        await self.writer.drain()
        response = await self._next(layer, h11.Response)
        assert isinstance(response, h11.Response)
        # As sent (raw_items keeps the server's spelling of names), and by lower-case name.
        headers_out = [
            (k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers.raw_items()
        ]
        joined: dict[str, str] = {}
        for k, v in headers_out:
            joined[k.lower()] = f"{joined[k.lower()]}, {v}" if k.lower() in joined else v
        head = HttpAnswer(
            response.status_code, response.reason.decode("latin-1"), joined, headers_out, b"", False
        )
        if inspect and (wanted := inspect(head)) is not None:
            max_bytes = wanted
        if method == "CONNECT" and 200 <= response.status_code < 300:
            if early := self._h11.trailing_data[0]:  # the tunnel's first bytes are ours to send
                raise Failure(
                    Layer.PROXY,
                    f.PROXY_ERROR,
                    f"the proxy sent {early[:32]!r} after its CONNECT answer, before TLS began",
                )
            return head
        keep_alive = (
            response.http_version == b"1.0"
            and "keep-alive"
            in (joined.get("connection", "") + joined.get("proxy-connection", "")).lower()
        )
        body, truncated = await self._body(max_bytes, layer, keep_alive)
        return replace(head, body=body, truncated=truncated)

    async def _body(self, max_bytes: int, layer: Layer, keep_alive: bool) -> tuple[bytes, bool]:
        chunks, size = [], 0
        while size <= max_bytes:
            event = await self._next(layer, h11.Data, h11.EndOfMessage)
            if isinstance(event, h11.EndOfMessage):
                if self._h11.our_state is h11.DONE and self._h11.their_state is h11.DONE:
                    self._h11.start_next_cycle()
                elif keep_alive and not self._h11.trailing_data[0]:
                    # An HTTP/1.0 proxy that keeps the connection (Proxy-Connection:
                    # keep-alive), as curl and Windows allow: h11 does not, so start afresh.
                    self._h11 = h11.Connection(h11.CLIENT)
                return b"".join(chunks), False
            assert isinstance(event, h11.Data)
            chunks.append(bytes(event.data))
            size += len(event.data)
        return b"".join(chunks)[: max_bytes + 1], True  # more than wanted: stop reading

    async def _next(self, layer: Layer, *wanted: type) -> h11.Event:
        while True:
            try:
                event = self._h11.next_event()
            except h11.RemoteProtocolError as exc:
                raise _protocol_failure(exc, layer) from None
            if event is h11.NEED_DATA:
                data = await self.reader.read(READ_SIZE)
                try:
                    self._h11.receive_data(data)
                except h11.RemoteProtocolError as exc:
                    raise _protocol_failure(exc, layer) from None
                continue
            if isinstance(event, h11.ConnectionClosed):
                raise Failure(layer, f.CONNECTION_CLOSED, "the server closed the connection early")
            if isinstance(event, h11.InformationalResponse):
                continue
            if isinstance(event, wanted):
                return event


def _protocol_failure(exc: h11.RemoteProtocolError, layer: Layer) -> Failure:
    text = str(exc)
    if "peer closed connection" in text or "ConnectionClosed" in text:
        return Failure(layer, f.CONNECTION_CLOSED, f"connection closed early: {text}")
    return Failure(layer, f.HTTP_PROTOCOL, f"malformed HTTP: {text}")


def request_headers(authority: str, *extra: tuple[str, str]) -> list[tuple[str, str]]:
    return [
        ("Host", authority),
        ("User-Agent", USER_AGENT),
        ("Accept", "*/*"),
        ("Accept-Encoding", "identity"),
        *extra,
    ]
