"""TCP connections to a host's addresses, tried as clients try them (RFC 8305).

The addresses come in the resolver's order (the OS sorts them, RFC 6724), the families
interleaved; one attempt starts, and the next when it fails or after a Connection Attempt
Delay of 250 ms, so a black-holed first address costs a quarter of a second, not the check.
The first connection wins; attempts still waiting are abandoned. The evidence lists every
address: what it did, and after how long. asyncio's own happy eyeballs
(`open_connection(happy_eyeballs_delay=...)`) says only that all attempts failed, not what
each did, hence this small loop.
"""

from __future__ import annotations

import asyncio
import select
import socket
import time
from dataclasses import dataclass, field

from netcheck import failures as f
from netcheck.failures import Failure, Layer, classify

ATTEMPT_DELAY = 0.25  # RFC 8305 section 5: "a recommended value of 250 ms"


def interleave(addresses: list[str]) -> list[str]:
    """Alternate the families, starting with the family of the first address (RFC 8305 4)."""
    first = [a for a in addresses if (":" in a) == (":" in addresses[0])]
    other = [a for a in addresses if (":" in a) != (":" in addresses[0])]
    out = [x for pair in zip(first, other, strict=False) for x in pair]
    return out + first[len(other) :] + other[len(first) :]


@dataclass
class Attempts:
    """What happened to each address: its failure, its success, or nothing yet."""

    host: str
    port: int
    started: dict[str, float] = field(default_factory=dict)
    outcome: dict[str, str] = field(default_factory=dict)
    failures: dict[str, Failure] = field(default_factory=dict)
    sockets: dict[str, socket.socket] = field(default_factory=dict, repr=False)

    def unanswered(self) -> float:
        """How long the network has left these attempts without an answer, by the kernel's
        account, which a busy machine does not delay: the oldest waiting attempt's age while
        no socket has connected or failed; 0 once one has (or none waits)."""
        waiting = {a: s for a, s in self.sockets.items() if a not in self.outcome}
        waiting = {a: s for a, s in waiting.items() if s.fileno() >= 0}
        if not waiting or any(map(_answered, waiting.values())):
            return 0.0
        return time.monotonic() - min(self.started[a] for a in waiting)

    def evidence(self, addresses: list[str]) -> str:
        return "; ".join(f"{_endpoint(a, self.port)} {self._did(a)}" for a in addresses)

    def _did(self, address: str) -> str:
        if address in self.outcome:
            return self.outcome[address]
        if address in self.started:
            return f"no answer after {(time.monotonic() - self.started[address]) * 1000:.0f} ms"
        return "not tried"


def _endpoint(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def _answered(sock: socket.socket) -> bool:
    """The handshake has ended, connected or failed (without reading or clearing the error)."""
    if hasattr(select, "poll"):
        poll = select.poll()
        poll.register(sock, select.POLLOUT)
        return bool(poll.poll(0))
    _, connected, failed = select.select([], [sock], [sock], 0)  # Windows
    return bool(connected or failed)


async def _connect(address: str, attempts: Attempts) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET)
    sock.setblocking(False)
    attempts.sockets[address] = sock
    try:
        await asyncio.get_running_loop().sock_connect(sock, (address, attempts.port))
    except BaseException:
        sock.close()
        raise
    return sock


async def connect(
    addresses: list[str], layer: Layer, attempts: Attempts
) -> tuple[socket.socket, str]:
    """The first address to accept a connection, and the socket; `attempts` records what
    each address did (also when the deadline cancels the race)."""
    order = interleave(addresses)
    waiting: dict[asyncio.Task[socket.socket], str] = {}
    try:
        for i, address in enumerate(order):
            attempts.started[address] = time.monotonic()
            waiting[asyncio.ensure_future(_connect(address, attempts))] = address
            last = i == len(order) - 1
            while waiting:
                done, _ = await asyncio.wait(
                    waiting, timeout=None if last else ATTEMPT_DELAY, return_when="FIRST_COMPLETED"
                )
                if not done:
                    break  # the delay passed: start the next address beside this one
                for task in done:
                    addr = waiting.pop(task)
                    elapsed = (time.monotonic() - attempts.started[addr]) * 1000
                    if (error := task.exception()) is None:
                        attempts.outcome[addr] = f"connected in {elapsed:.0f} ms"
                        return task.result(), addr
                    failure = classify(error, layer)
                    attempts.failures[addr] = failure
                    attempts.outcome[addr] = f"{failure.cause} after {elapsed:.0f} ms"
                if not last:
                    break  # a failure starts the next attempt at once
        raise _all_failed(order, attempts)
    finally:
        for task in waiting:
            task.cancel()
            task.add_done_callback(_close_late_winner)


def _close_late_winner(task: asyncio.Task[socket.socket]) -> None:
    if not task.cancelled() and task.exception() is None:
        task.result().close()


def _all_failed(order: list[str], attempts: Attempts) -> Failure:
    """The failure when no address accepted: the first address's cause (the one the OS
    prefers), every address's outcome in the detail."""
    first = attempts.failures[order[0]]
    where = f"{attempts.host} port {attempts.port}"
    if len(order) == 1:
        return Failure(first.layer, first.cause, f"{where} ({order[0]}): {first.detail}")
    return Failure(
        first.layer, first.cause, f"{where}: no address accepted: {attempts.evidence(order)}"
    )


def dead_addresses_warning(winner: str, attempts: Attempts, order: list[str]) -> Failure | None:
    """A warning when the connection only worked through a later address: clients that try
    addresses one by one (WinHTTP, most libraries) wait for each dead one in turn."""
    first = attempts.started[winner]
    dead = [a for a in order if a != winner and attempts.started.get(a, first) < first]
    if not dead:
        return None
    return Failure(
        Layer.TCP,
        f.ADDRESS_UNREACHABLE,
        f"{attempts.host}: {', '.join(_endpoint(a, attempts.port) for a in dead)} did not accept a "
        f"connection; {_endpoint(winner, attempts.port)} did ({attempts.evidence(order)})",
    )
