"""netcheck's xdist scheduler (`-n`, ShareScheduling) survives a worker that dies, as xdist's
own schedulers do: the crash is reported against its test, the other tests still run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

TESTS = """
import os

def test_a(): pass
def test_dies(worker_id):
    if worker_id == "gw1":
        os._exit(1)
def test_b(): pass
def test_c(): pass
def test_d(): pass
def test_e(): pass
"""


def test_a_killed_worker_is_reported_and_the_rest_run(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "endpoints.toml").write_text('[profile]\nname = "none"\n')
    (tmp_path / "test_dies.py").write_text(TESTS)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "2", "-p", "no:cacheprovider", "-p", "no:html"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output
    assert "INTERNALERROR" not in output
    assert "worker 'gw1' crashed while running 'test_dies.py::test_dies'" in output
    assert "1 failed, 5 passed" in output
