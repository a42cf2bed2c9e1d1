"""`make demo`'s summary (scripts/demo.sh) shows the lifecycle host's steps:
the BMCs that answered, a power action through one, the log archive; a BMC
failure changes the summary and the exit status. The script runs for real
against a stand-in `lab` (STACKLAB_DEMO_LAB) that answers as the real
commands do (their JSON shapes) and fails where the test says: the demo's
own logic is under test here, the commands have their own tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STAND_IN = r'''#!/usr/bin/env python3
import json, os, sys
args = sys.argv[1:]
fail_bmc = os.environ.get("DEMO_FAIL_BMC") == "1"
if args[:2] == ["bmc", "status"]:
    rows = [{"server": "hv1", "answered": not fail_bmc, "systems": [] if fail_bmc else [
                {"name": "hv1", "kind": "server", "power": "On"}, {"name": "vm1", "kind": "vm", "power": "On"}]},
            {"server": "mux1", "answered": True, "systems": [{"name": "mux1", "kind": "server", "power": "On"}]}]
    print(json.dumps({"bmcs": rows, "systems": [s for r in rows for s in r["systems"]]}))
    sys.exit(4 if fail_bmc else 0)
if args[:3] == ["bmc", "power", "cycle"]:
    print(json.dumps({"system": args[3], "power": "On"}))
elif args[:2] == ["logs", "collect"]:
    out = args[args.index("-o") + 1]
    open(out, "wb").write(b"archive")
    print(json.dumps({"archive": out, "manifest": {"taken": [1, 2, 3], "missing": [4]}}))
with open(os.environ["DEMO_CALLS"], "a") as fh:
    fh.write(" ".join(args) + "\n")
'''


def run_demo(tmp_path: Path, fail_bmc: bool) -> tuple[subprocess.CompletedProcess, list[str]]:
    stand_in = tmp_path / "lab"
    stand_in.write_text(STAND_IN)
    stand_in.chmod(0o755)
    calls = tmp_path / "calls"
    env = {**os.environ, "STACKLAB_DEMO_LAB": str(stand_in), "STACKLAB_DEMO_PYTHON": sys.executable,
           "DEMO_CALLS": str(calls), "DEMO_FAIL_BMC": "1" if fail_bmc else "0", "TMPDIR": str(tmp_path)}
    proc = subprocess.run(["bash", "scripts/demo.sh", "topologies/minimal.yaml"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    return proc, calls.read_text().splitlines()


def test_the_summary_shows_the_bmcs_a_power_action_and_the_log_archive(tmp_path):
    proc, calls = run_demo(tmp_path, fail_bmc=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "  BMC: ok: 2/2 BMCs answered; power cycle vm1 -> On" in proc.stdout
    assert f"  logs: {tmp_path}/stacklab-demo-logs.tar.zst: 3 items, 1 missing (see its manifest)" in proc.stdout
    assert any(c.startswith("bmc power cycle vm1") for c in calls)
    assert calls[-1].startswith("down")


def test_a_bmc_failure_changes_the_summary_and_the_exit_status(tmp_path):
    proc, calls = run_demo(tmp_path, fail_bmc=True)
    assert proc.returncode == 1
    assert "  BMC: FAILED: lab bmc status exited 4 (1/2 BMCs answered)" in proc.stdout
    assert not any(c.startswith("bmc power") for c in calls)  # no power action without a BMC
    assert calls[-1].startswith("down")
