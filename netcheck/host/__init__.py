"""Windows host checks from the activation checklist: what this machine's settings say.

Each check reads (collect: Windows only, read-only, bounded in time) and judges (interpret:
pure, tested on recorded readings anywhere). `run` joins them and never raises.
"""

from __future__ import annotations

import threading

from netcheck.host import (
    broker,
    causes,
    ipv6,
    ncsi,
    office,
    permissions,
    proxy,
    services,
    tls,
    winsock,
)
from netcheck.host.base import HostCheck, ReadError, Reading, Verdict

__all__ = ["CHECKS", "HostCheck", "Reading", "Verdict", "run"]

CHECKS: tuple[HostCheck, ...] = (
    *tls.CHECKS,
    *services.CHECKS,
    *ncsi.CHECKS,
    *proxy.CHECKS,
    *permissions.CHECKS,
    *ipv6.CHECKS,
    *broker.CHECKS,
    *winsock.CHECKS,
    *office.CHECKS,
)

GRACE = 3.0  # seconds past the timeout for a collector to stop its command and return


def collect_within(check: HostCheck, timeout: float) -> Reading:
    """The check's reading, or one saying why there is none; never waits much past
    `timeout` (a collector stuck anyway is left behind in its daemon thread)."""
    box: list[Reading] = []

    def work() -> None:
        try:
            box.append(check.collect(timeout))
        except (ReadError, OSError) as exc:
            box.append(Reading(error=str(exc) or type(exc).__name__))
        except Exception as exc:  # a collector bug must not escape run()
            box.append(Reading(error=f"netcheck failed while reading: {type(exc).__name__}: {exc}"))

    thread = threading.Thread(target=work, name=f"host-{check.id}", daemon=True)
    thread.start()
    thread.join(timeout + GRACE)
    return box[0] if box else Reading(error=f"reading took longer than {timeout:g} s")


def run(check: HostCheck, timeout: float) -> Verdict:
    """Read and judge one check; never raises (off Windows it is not called)."""
    return judge_safely(check, collect_within(check, timeout))


def judge_safely(check: HostCheck, reading: Reading) -> Verdict:
    """The check's verdict on a reading; a bug in its interpreter becomes a verdict too."""
    try:
        return check.interpret(reading)
    except Exception as exc:
        return Verdict(
            "unreadable",
            causes.CHECK_ERROR,
            f"netcheck could not interpret what it read: {type(exc).__name__}: {exc}",
            "This is a netcheck bug: please report it with the evidence.",
            {"reading": reading.to_json()},
        )
