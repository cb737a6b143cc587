"""The naive baseline: the same checks as netcheck, run one after another.

python -m benchmarks.sequential PROFILE CA_PEM TIMEOUT → prints "passed/total".
"""

from __future__ import annotations

import sys
from pathlib import Path

from netcheck.checks import KINDS
from netcheck.engine import Check, run
from netcheck.net import Network
from netcheck.profile import load


def main(profile: str, ca: str, timeout: str) -> None:
    network = Network(ca_bundles=(Path(ca),))
    checks = [Check(k, t) for k in KINDS for t in KINDS[k].plan(load(Path(profile)), None)]
    passed = sum(run(check, network, float(timeout)).passed for check in checks)
    print(f"{passed}/{len(checks)}")


if __name__ == "__main__":
    main(*sys.argv[1:])
