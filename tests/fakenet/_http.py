"""Minimal HTTP/1.x head parsing and formatting shared by the web server and proxy."""

from __future__ import annotations

import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from http import HTTPStatus

MAX_HEAD = 64 * 1024


@dataclass
class Head:
    """A parsed request/response head: the start line split in 3, plus headers."""

    start: list[str]
    headers: list[tuple[str, str]] = field(default_factory=list)

    def get(self, name: str, default: str | None = None) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), default)

    @classmethod
    def parse(cls, raw: bytes) -> Head:
        lines = raw.decode("latin-1").split("\r\n")
        headers = [
            (k.strip(), v.strip())
            for k, _, v in (line.partition(":") for line in lines[1:] if line)
        ]
        return cls(lines[0].split(" ", 2), headers)


def read_head(conn: socket.socket) -> tuple[bytes, bytes] | None:
    """Read up to the blank line; returns (head without CRLFCRLF, extra bytes) or None."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = conn.recv(65536)
        if not chunk or len(buf) > MAX_HEAD:
            return None
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    return head, rest


def format_head(
    status: int,
    headers: Iterable[tuple[str, str]],
    reason: str | None = None,
    version: str = "HTTP/1.1",
) -> bytes:
    """``HTTP/1.1 <status> <reason>`` + headers + blank line."""
    if reason is None:
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = "Unknown"
    lines = [f"{version} {status} {reason}", *(f"{k}: {v}" for k, v in headers), "", ""]
    return "\r\n".join(lines).encode("latin-1")


def response(
    status: int,
    body: bytes = b"",
    headers: Iterable[tuple[str, str]] = (),
) -> bytes:
    """A complete ``Connection: close`` response with Content-Length."""
    all_headers = [*headers, ("Content-Length", str(len(body))), ("Connection", "close")]
    return format_head(status, all_headers) + body
