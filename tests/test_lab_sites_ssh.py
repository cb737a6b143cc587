"""Branch offices over real ssh (scenario sites-ssh): the controller in corp reaches each
site's own sshd with the lab's ssh_config, exactly as `--tx ssh=...` reaches an office; an
office whose sshd is down or refuses the key is left out with ssh's own reason on the
controller's terminal; xdist copies pytest into the site's working directory, never into
the checkout. The suite's verdicts per site are checked in test_lab_e2e.py."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from lab import scenario as scenarios
from lab.plan import CORP_IP, make
from lab.ssh import OTHER_VERSION, Keys
from lab.topology import REPO, Lab, missing_binaries
from tests import lab_fleet as fleet

SCENARIO = scenarios.load("sites-ssh")
ADDRESS = {s.name: s.address for s in make("x", SCENARIO.sites).sites}
VERSION = "import importlib.metadata as m; print(m.version('netcheck'))"

if os.geteuid() != 0 or missing_binaries():
    pytestmark = pytest.mark.skip(reason="the lab needs root and its daemons")


def remote(lab: Lab, site: str, command: str) -> subprocess.CompletedProcess:
    """`command` over ssh from corp to the site, as the controller's gateways log in."""
    assert lab.dir
    config = str(Keys.of(lab.dir).config)
    return subprocess.run(
        ["ip", "netns", "exec", lab.corp, "ssh", "-F", config, f"root@{ADDRESS[site]}", command],
        capture_output=True,
        text=True,
        timeout=30,
    )


def sessions(lab: Lab) -> dict[str, object]:
    """Each site's answer: where the session comes from and lands, the netcheck version its
    Python imports in its working directory; and what its working directory holds."""
    assert lab.dir
    found: dict[str, object] = {}
    for site in SCENARIO.sites:
        work = lab.dir / "sites" / site
        proc = remote(
            lab, site, f'echo $SSH_CONNECTION; cd {work} && {sys.executable} -c "{VERSION}"'
        )
        found[site] = (proc.returncode, proc.stdout.split(), proc.stderr)
    found["workdirs"] = {
        s: sorted(p.name for p in (lab.dir / "sites" / s).iterdir()) for s in SCENARIO.sites
    }
    return found


fleet.want("sites-ssh", ssh=sessions)


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> fleet.Outcome:
    return fleet.outcome("sites-ssh", tmp_path_factory.mktemp("sites-ssh"))


@pytest.mark.parametrize("site", ["north", "south", "east", "old"])
def test_the_controller_logs_in_to_the_sites_sshd(outcome: fleet.Outcome, site: str) -> None:
    code, words, error = outcome.probe("ssh")[site]
    assert code == 0, error
    client, _, server, port, version = words
    assert (client, server, port) == (CORP_IP, ADDRESS[site], "22")  # corp -> the site
    assert version == (OTHER_VERSION if site == "old" else "0.1.0")


@pytest.mark.parametrize(
    ("site", "error"),
    [
        ("down", f"ssh: connect to host {ADDRESS['down']} port 22: Connection refused"),
        ("nokey", f"root@{ADDRESS['nokey']}: Permission denied (publickey)."),
    ],
)
def test_a_site_ssh_cannot_reach_fails_fast_with_sshs_reason(
    outcome: fleet.Outcome, site: str, error: str
) -> None:
    code, _, stderr = outcome.probe("ssh")[site]
    assert code == 255 and error in stderr.splitlines(), stderr
    run = outcome.runs["sites"]
    assert error in run.output.splitlines()  # the controller's terminal says why
    assert run.seconds < 60  # BatchMode, ConnectTimeout: no prompt, no long wait


def test_xdist_copies_pytest_into_the_sites_working_directory_only(outcome: fleet.Outcome) -> None:
    workdirs = outcome.probe("ssh")["workdirs"]
    for site in ("north", "south", "east"):
        assert {"_pytest", "pytest", "pytest.ini", "tests_network"} <= set(workdirs[site])
    assert "_pytest" not in workdirs["down"]
    assert not (REPO / "_pytest").exists() and not (REPO / "pytest").exists()


def test_report_has_every_site_with_its_error(outcome: fleet.Outcome) -> None:
    sites = {s["name"]: s for s in outcome.runs["sites"].results["sites"]}
    assert sites["north"]["summary"] == {"passed": 66, "skipped": 17}  # host: Windows only
    assert sites["down"]["error"] == f"cannot start Python there: root@{ADDRESS['down']}"
    assert sites["nokey"]["summary"] == {}
