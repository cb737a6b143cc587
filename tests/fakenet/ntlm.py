"""A forward proxy that wants NTLM: the three legs must share one kept-alive connection, and
the password is checked for real (pyspnego's acceptor, against the users in the file that
NTLM_USER_FILE names: `DOMAIN:user:password` lines). Its 407 pages can be large (branded
error pages) and its answers HTTP/1.0 with `Proxy-Connection: keep-alive`, two things real
proxies do that a client must survive."""

from __future__ import annotations

import base64
import socket

import spnego
import spnego.exceptions

from ._base import TCPServer
from ._http import Head, format_head, read_head
from .proxy import splice


class NTLMProxy(TCPServer):
    """CONNECT only; after the third leg the tunnel is relayed to `upstream` (address, port)."""

    def __init__(
        self, address: str, upstream: tuple[str, int], *, page: int = 0, http10: bool = False
    ) -> None:
        super().__init__(address, 0)
        self.upstream, self.page, self.http10 = upstream, b"x" * page, http10
        self.legs: list[str] = []  # what each request carried: "none", "negotiate", "auth"

    def _407(self, conn: socket.socket, challenge: str) -> None:
        version = "HTTP/1.0" if self.http10 else "HTTP/1.1"
        headers = [
            ("Proxy-Authenticate", challenge),
            ("Proxy-Connection" if self.http10 else "Connection", "keep-alive"),
            ("Content-Length", str(len(self.page))),
        ]
        conn.sendall(format_head(407, headers, version=version) + self.page)

    def handle(self, conn: socket.socket) -> None:
        server = spnego.server(protocol="ntlm")
        while (got := read_head(conn)) is not None:
            head = Head.parse(got[0])
            auth = head.get("Proxy-Authorization") or ""
            token = base64.b64decode(auth.split(" ", 1)[1]) if auth.startswith("NTLM ") else None
            if token is None:
                self.legs.append("none")
                self._407(conn, "NTLM")
            elif token[8:12] == b"\x01\x00\x00\x00":  # NEGOTIATE_MESSAGE: send a challenge
                self.legs.append("negotiate")
                challenge = server.step(token) or b""
                self._407(conn, f"NTLM {base64.b64encode(challenge).decode()}")
            else:  # AUTHENTICATE_MESSAGE
                self.legs.append("auth")
                try:
                    server.step(token)
                except spnego.exceptions.SpnegoError:
                    self._407(conn, "NTLM")  # wrong password
                    server = spnego.server(protocol="ntlm")
                    continue
                conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                with socket.create_connection(self.upstream) as origin:
                    splice(conn, origin)
                return
