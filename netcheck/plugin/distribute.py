"""pytest-xdist support: what `-n` means for an I/O-bound suite.

One process already probes every check at once; extra processes only share the CPU work
(TLS handshakes, pytest's own bookkeeping). What must not happen is each worker probing
every endpoint, or a worker probing one test at a time as xdist hands tests out. So:

- `--dist load` (the default of `-n`): worker k of n runs the tests at positions k, k+n,
  k+2n... of the collection, all sent at once, and probes exactly those when collection
  ends. Each check is probed once in the whole run.
- `--dist each`: every worker runs every test, so every worker probes everything (each
  worker is an environment of its own, e.g. `--tx popen//env:HTTPS_PROXY=...`).
- other modes (loadscope, loadfile, loadgroup, worksteal): xdist decides, test by test,
  where a test runs; a worker probes a check when its test arrives, one at a time.

Registered by the plugin only when pytest-xdist is active.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from xdist.scheduler import LoadScheduling
from xdist.workermanage import WorkerController

MODE = "netcheck_probe"  # workerinput key: all | share | on_demand


def probe_mode(dist: str) -> str:
    return {"each": "all", "load": "share"}.get(dist, "on_demand")


def share(count: int, workerinput: Mapping[str, Any]) -> range:
    """Positions in the collection of the tests this worker runs under ShareScheduling."""
    worker = int(str(workerinput["workerid"]).removeprefix("gw"))
    workers = int(workerinput["workercount"])
    return range(worker, count, workers) if worker < workers else range(0)


class ShareScheduling(LoadScheduling):
    """LoadScheduling that sends each worker its whole share at once (see `share`).

    Tests of a worker that never came up, or of one that crashed, go to the others as
    LoadScheduling does; those workers probe them as they arrive.
    """

    def schedule(self) -> None:
        if self.collection is not None:  # a replacement worker joined: plain load scheduling
            return super().schedule()
        if not self._check_nodes_have_same_collection():
            self.log("**Different tests collected, aborting run**")
            return
        self.collection = next(iter(self.node2collection.values()))
        if self.maxschedchunk is None:  # as LoadScheduling.schedule: check_schedule needs it
            self.maxschedchunk = len(self.collection)
        left = set(range(len(self.collection)))
        for node in self.nodes:
            if indices := list(share(len(self.collection), node.workerinput)):
                left -= set(indices)
                self.node2pending[node].extend(indices)
                node.send_runtest_some(indices)
        self.pending[:] = sorted(left)
        for node in self.nodes:
            self.check_schedule(node)  # hands out what is left, or shuts the node down


def pytest_configure_node(node: WorkerController) -> None:
    node.workerinput[MODE] = probe_mode(node.config.getoption("dist"))


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> LoadScheduling | None:
    return ShareScheduling(config, log) if config.getoption("dist") == "load" else None
