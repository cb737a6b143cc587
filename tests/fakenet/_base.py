"""Lifecycle base classes: every fake server owns its sockets and threads."""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import ssl
import threading
import time
from typing import Any, Self

JOIN_TIMEOUT = 5.0


# Where fakenet may listen: loopback, and the benchmark and documentation ranges, which
# no one routes (the self-tests make them local to their own network namespace).
LOCAL_ONLY = tuple(
    ipaddress.ip_network(n) for n in ("127.0.0.0/8", "::1/128", "198.18.0.0/15", "2001:db8::/32")
)


def family_of(address: str) -> socket.AddressFamily:
    """AF_INET6 for IPv6 literals, AF_INET otherwise (LOCAL_ONLY addresses, enforced)."""
    ip = ipaddress.ip_address(address)
    if not any(ip in net for net in LOCAL_ONLY):
        raise ValueError(f"fakenet binds loopback and lab-only addresses, not {address}")
    return socket.AF_INET6 if ip.version == 6 else socket.AF_INET


def host_port(address: str, port: int) -> str:
    """``IP:PORT``, bracketing IPv6 literals."""
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


class Service:
    """Context manager owning sockets and threads; ``__exit__`` stops everything.

    Subclasses implement :meth:`_start` (bind with :meth:`_bind`, run loops with
    :meth:`_spawn`). Blocking loops are woken on stop by shutting their sockets down.
    """

    def __init__(self, address: str = "127.0.0.1", port: int = 0) -> None:
        self.address = address
        self.port = port
        self.family = family_of(address)
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {host_port(self.address, self.port)}>"

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> Self:
        """Bind and start serving; returns self."""
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        """Wake every blocked thread, join them, close all sockets."""
        with self._lock:
            self._stopping.set()
            sockets = list(self._sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
        deadline = time.monotonic() + JOIN_TIMEOUT
        while pending := [t for t in self._threads if t.is_alive()]:
            if time.monotonic() > deadline:
                break
            for thread in pending:
                thread.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            sockets, self._sockets = list(self._sockets), set()
        for sock in sockets:
            sock.close()

    def _bind(self, kind: socket.SocketKind) -> socket.socket:
        """Bind a tracked socket on (address, port); resolves port 0."""
        sock = socket.socket(self.family, kind)
        self._track(sock)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.address, self.port))
        self.port = sock.getsockname()[1]
        return sock

    def _track(self, sock: socket.socket) -> bool:
        """Register *sock* for shutdown on stop; closes it and returns False if stopping."""
        with self._lock:
            if not self._stopping.is_set():
                self._sockets.add(sock)
                return True
        sock.close()
        return False

    def _release(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.discard(sock)
        sock.close()

    def _spawn(self, target: Any, *args: Any) -> None:
        thread = threading.Thread(
            target=target, args=args, daemon=True, name=f"{type(self).__name__}-{target.__name__}"
        )
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
        thread.start()


class TCPServer(Service):
    """Threaded TCP listener, optionally TLS: one thread per connection runs :meth:`handle`."""

    backlog = 128

    def __init__(
        self, address: str = "127.0.0.1", port: int = 0, *, tls: ssl.SSLContext | None = None
    ) -> None:
        super().__init__(address, port)
        self.tls = tls

    def _start(self) -> None:
        self._listener = self._bind(socket.SOCK_STREAM)
        self._listener.listen(self.backlog)
        self._spawn(self._accept_loop)

    def handle(self, conn: socket.socket) -> None:
        """Serve one accepted (and TLS-handshaken) connection; it is closed afterwards."""
        raise NotImplementedError

    def _accept_loop(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            if self._track(conn):
                self._spawn(self._serve, conn)

    def _serve(self, conn: socket.socket) -> None:
        try:
            if self.tls is not None:
                conn = self._wrap_tls(conn)
                conn.do_handshake()
            self.handle(conn)
        except OSError:  # includes ssl.SSLError, resets, timeouts, stop()
            pass
        finally:
            self._release(conn)

    def _wrap_tls(
        self,
        conn: socket.socket,
        ctx: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
    ) -> ssl.SSLSocket:
        """Wrap a tracked socket, still tracked; the server side unless `server_hostname`."""
        ctx = ctx or self.tls
        assert ctx is not None
        with self._lock:  # wrap_socket detaches conn's fd: swap atomically w.r.t. stop()
            self._sockets.discard(conn)
            wrapped = ctx.wrap_socket(
                conn,
                server_side=server_hostname is None,
                server_hostname=server_hostname,
                do_handshake_on_connect=False,
            )
            self._sockets.add(wrapped)
        return wrapped

    def _drain(self, conn: socket.socket) -> None:
        """Read and discard until the peer closes (or stop)."""
        while conn.recv(65536):
            pass
