"""One module per kind of check. Each `probe(target, network, trace)` speaks its protocol,
raises Failure or Skip, and returns a one-line summary on success; the runner owns the
deadline, timing and bookkeeping."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from netcheck.net import Network
from netcheck.probes import crl, firewall, msoid, ncsi, tls
from netcheck.result import Trace

Probe = Callable[[Any, Network, Trace], str]

PROBES: dict[str, Probe] = {
    "firewall": firewall.probe,
    "tls": tls.probe,
    "crl": crl.probe,
    "ncsi_web": ncsi.probe_web,
    "ncsi_dns": ncsi.probe_dns,
    "msoid": msoid.probe,
}
