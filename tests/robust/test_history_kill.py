"""`kill -9` of `lab verify` itself while it writes its run to the history
store: the store stays intact (integrity_check), holds no torn run (every
stored run has all its checks and samples, the killed one is absent), and
the next `lab verify` records its run as usual.

To land inside the write every time, the verify process is run through a
wrapper that stops it (SIGSTOP) once the first check row of the run is
inserted, inside the transaction; the test then kills it. The command, its store and
its transaction are the real ones; the stop only holds the moment still.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lab.report.history import History, results_dir

from .conftest import require
from .residue import ROOT, lab_cli, residue

pytestmark = pytest.mark.root

LAB = "crashh"
# two quick groups (the BMC answers, the secrets' age): what is written matters here, not what is checked
ONLY = ("--only", "hlh", "--only", "baseline")
TOPOLOGY = f"""name: {LAB}
underlay: {{subnet: 198.18.73.0/24}}
servers: [{{name: hv1, role: compute}}, {{name: hv2, role: compute}}]
tenants: [{{name: red, vni: 1073, subnets: [{{name: web, prefix: 100.64.73.0/24}}]}}]
vms:
  - {{name: web1, tenant: red, subnet: web, server: hv1, kind: netns}}
  - {{name: web2, tenant: red, subnet: web, server: hv2, kind: netns}}
"""
STOP_INSIDE_WRITE = """
import os, signal, sys
from lab.report import history
insert = history.History._insert_check
rows = []
def stop_after_one(db, run_id, result):
    insert(db, run_id, result)
    rows.append(result.name)
    if len(rows) == 1:  # inside record_run's transaction: the run's row and one check written
        os.kill(os.getpid(), signal.SIGSTOP)
history.History._insert_check = staticmethod(stop_after_one)
from lab.cli.root import main
sys.argv = ["lab", *sys.argv[1:]]
main()
"""


def _verify(path: Path) -> dict:
    proc = lab_cli("verify", str(path), *ONLY, "--format", "json", check=False, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout)


def _stopped(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "T":
                return True
        except OSError:
            return False
        time.sleep(0.02)
    return False


def _run_ids() -> list[int]:
    with History.for_lab(results_dir(LAB)) as store:
        return [run.id for run in store.runs(LAB)]


def _runs_whole(expected_checks: int, since: list[int]) -> list[int]:
    """The runs recorded after `since`; each must be whole."""
    with History.for_lab(results_dir(LAB)) as store:
        assert store.integrity_ok()
        runs = [run for run in store.runs(LAB) if run.id not in since]
    for run in runs:  # no torn run: all checks, and every check has its samples
        assert len(run.results) == expected_checks, (run.id, [r.name for r in run.results])
    return [run.id for run in runs]


def test_kill_9_of_verify_during_its_history_write_leaves_the_store_whole(tmp_path):
    require("vtysh")
    path = tmp_path / f"{LAB}.yaml"
    path.write_text(TOPOLOGY)
    lab_cli("up", str(path))
    try:
        earlier = _run_ids()  # an earlier session's runs of this lab (a reused STACKLAB_HOME)
        checks = len(_verify(path)["checks"])
        assert checks >= 2
        (first,) = _runs_whole(checks, earlier)
        proc = subprocess.Popen([sys.executable, "-c", STOP_INSIDE_WRITE, "verify", str(path), *ONLY],
                                cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert _stopped(proc.pid, 600), f"verify never reached its history write: {proc.communicate()}"
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        assert _runs_whole(checks, earlier) == [first]  # the killed run is not there at all
        assert len(_verify(path)["checks"]) == checks
        (again, second) = _runs_whole(checks, earlier)  # the next verify is recorded, whole
        assert again == first and second > first
    finally:
        lab_cli("down", "--lab", LAB, check=False)
    assert residue(LAB) == []
