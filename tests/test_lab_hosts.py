"""The desktop's hosts file: in the corporate namespace the OS resolver (getent, i.e. glibc's
nsswitch: files, then DNS) answers the scenario's pinned names from /etc/netns/<corp>/hosts
and every other name from the lab's DNS. netcheck's client does not use the OS resolver
yet: the hosts-file scenario's run is skipped in test_lab_e2e.py until it does."""

from __future__ import annotations

import os
import subprocess

import pytest

from lab import content
from lab import scenario as scenarios
from lab.topology import REPO, Lab, missing_binaries
from netcheck import profile as profiles
from tests import lab_fleet as fleet

PINS = scenarios.load("hosts-file").hosts
UNPINNED = "login.microsoftonline.com"

if os.geteuid() != 0 or missing_binaries():
    pytestmark = pytest.mark.skip(reason="the lab needs root and its daemons")


def getent(lab: Lab) -> dict[str, tuple[list[str], list[str]]]:
    """Each name's addresses from the OS resolver in corp, and from the edge's hosts file
    alone (`-s files`: the edge's resolver is the host machine's, not to be asked)."""

    def addresses(ns: str, name: str, *source: str) -> list[str]:
        proc = subprocess.run(
            ["ip", "netns", "exec", ns, "getent", *source, "ahosts", name],
            capture_output=True,
            text=True,
        )
        return sorted({line.split()[0] for line in proc.stdout.splitlines()})

    return {
        name: (addresses(lab.corp, name), addresses(lab.ns("edge"), name, "-s", "files"))
        for name in [*PINS, UNPINNED]
    }


fleet.want("hosts-file", getent=getent)


@pytest.fixture(scope="module")
def resolved(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return fleet.outcome("hosts-file", tmp_path_factory.mktemp("hosts")).probe("getent")


@pytest.mark.parametrize("name", list(PINS))
def test_pinned_names_resolve_to_the_pins(resolved: dict, name: str) -> None:
    corp, _ = resolved[name]
    assert corp == sorted(PINS[name])


def test_other_names_come_from_the_lab_dns(resolved: dict) -> None:
    host = next(
        h for h in content.hosts(profiles.load(REPO / "endpoints.toml")) if h.name == UNPINNED
    )
    assert resolved[UNPINNED][0] == sorted([host.v4, host.v6])


def test_the_hosts_file_is_the_corporate_desktops_only(resolved: dict) -> None:
    """Outside corp (here the edge) the hosts file is the machine's: no pin."""
    for name in PINS:
        assert resolved[name][1] == [], name
