"""Run the real netcheck suite inside the lab's corporate namespace and read its verdicts."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from lab import ssh
from lab.scenario import Run, Verdict, optional_tests, read_junit
from lab.topology import REPO, Lab
from netcheck.trust import spki_pin

# Short enough that dropped hosts cost little, long enough for a loaded 2-core machine.
PROBE_TIMEOUT = "5"
# Only what Python needs: no proxy variables, no PYTEST_* from a calling pytest.
KEEP_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TERM", "VIRTUAL_ENV")


@dataclass
class SuiteRun:
    argv: list[str]
    returncode: int
    seconds: float
    output: str
    verdicts: dict[str, Verdict]
    html: Path
    junit: Path
    optional: set[str]  # tests whose failure does not fail the run (required = false)
    results: dict  # the JSON results file ({} if none was written)


def suite_argv(lab: Lab, run: Run) -> list[str]:
    """The suite's command line, as a user in the corporate network would type it (after
    `env` and the Kerberos variables for a "kerberos" run); with sites, one xdist gateway
    per site runs the checks in that site's namespace. The lab CA stands for the public web
    PKI: it is an expected root, as certifi's roots are."""
    lab_ca = x509.load_pem_x509_certificate(lab.ca_bundle.read_bytes())
    env = lab.client_env(run.proxy)
    argv = [
        *(["env", *(f"{k}={v}" for k, v in env.items())] if env else []),
        sys.executable,
        "-m",
        "pytest",
        f"--ca-bundle={lab.desktop_ca_bundle}",
        f"--expected-root={spki_pin(lab_ca)}",
        f"--probe-timeout={PROBE_TIMEOUT}",
        *(f"--domain={d}" for d in lab.scenario.domains),
    ]
    if proxy := lab.proxy_url(run.proxy):
        argv.append(f"--proxy={proxy}")
    if run.sites:
        argv += ["--dist", "each"]
        for name in run.sites:
            argv += ["--tx", gateway(lab, name)]
    return argv


def gateway(lab: Lab, name: str) -> str:
    """A site's --tx: over ssh to its sshd, as a branch office; else a local Python started
    in its namespace."""
    assert lab.dir
    if "ssh" in lab.scenario.sites[name]:
        return ssh.gateway(lab.dir, name, lab.plan.site(name).address)
    python = shlex.join(["ip", "netns", "exec", lab.ns(name), sys.executable])
    return f"popen//id={name}//python={python}"


def run_suite(lab: Lab, run: Run, out_dir: Path, html: Path | None = None) -> SuiteRun:
    out_dir.mkdir(parents=True, exist_ok=True)
    junit = out_dir / f"{lab.scenario.name}-{run.name}.xml"
    html = html or out_dir / f"{lab.scenario.name}-{run.name}.html"
    results = junit.with_suffix(".json")
    outputs = [f"--junitxml={junit}", f"--html={html}", f"--results={results}", "-q"]
    argv = [*suite_argv(lab, run), *outputs]
    env = {k: v for k, v in os.environ.items() if k in KEEP_ENV}
    start = time.monotonic()
    proc = subprocess.run(
        ["ip", "netns", "exec", lab.corp, *argv],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=run.max_seconds * 3,
    )
    seconds = time.monotonic() - start
    verdicts = read_junit(junit) if junit.exists() else {}
    optional = optional_tests(junit) if junit.exists() else set()
    output = proc.stdout + proc.stderr
    data = json.loads(results.read_text()) if results.exists() else {}
    return SuiteRun(argv, proc.returncode, seconds, output, verdicts, html, junit, optional, data)
