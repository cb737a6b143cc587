"""The engine on a machine too busy to keep time: the event loop is stalled past what a
check's deadline gives back. A connection the kernel saw go unanswered for a whole timeout
is still a timeout (the network's fault); a check the network may have answered during the
stall gets no verdict (`overloaded`), never a failure."""

from __future__ import annotations

import time
from pathlib import Path

from netcheck.checks import KINDS
from netcheck.engine import MAX_EXTENSION, Check, Engine
from netcheck.net import Nameserver, Network
from netcheck.net.resolve import Resolver
from netcheck.net.tls import Trust
from netcheck.profile import load
from tests.loopback_lab import Lab

TIMEOUT = 1.0


def test_a_stalled_machine_still_tells_a_dropped_host_but_judges_nothing_else(
    lab: Lab, tmp_path: Path
) -> None:
    path = tmp_path / "profile.toml"
    path.write_text(
        '[profile]\nname = "stalled"\n'
        '[[endpoint]]\nurl = "https://dropped.netcheck.test/"\nchecks = ["firewall"]\n'
        '[[endpoint]]\nurl = "https://stall.netcheck.test/"\nchecks = ["firewall"]\n'
    )
    dropped, stalled = (Check("firewall", t) for t in KINDS["firewall"].plan(load(path), None))
    network = Network(Resolver((Nameserver.parse(lab.nameserver),)), trust=Trust((lab.ca_pem,)))
    engine = Engine(network, timeout=TIMEOUT)
    try:
        futures = engine.submit(dropped, stalled)
        time.sleep(0.3)  # both under way: SYNs unanswered, a TLS handshake unanswered
        stall = TIMEOUT * MAX_EXTENSION + 1.5  # more than the engine gives back
        engine.loop.call_soon_threadsafe(time.sleep, stall)
        dropped_result, stalled_result = (future.result() for future in futures)
    finally:
        engine.close()
    assert (dropped_result.outcome, dropped_result.layer, dropped_result.cause) == (
        "fail",
        "tcp",
        "timeout",
    )
    # connected, then waiting for a ServerHello that may have come during the stall
    assert (stalled_result.outcome, stalled_result.cause) == ("error", "overloaded")
    assert "too busy" in stalled_result.detail
