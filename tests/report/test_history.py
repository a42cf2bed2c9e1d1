"""lab.report.history: runs are stored whole, queries find baselines and series,
and a writer killed with SIGKILL mid-transaction never corrupts the database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lab.report.history import History, RunRecord
from lab.verify.result import CheckResult

CHECKS_PER_RUN = 300
SAMPLES_PER_CHECK = 40

WRITER = f"""
import sys, time
from lab.report.history import History, RunRecord
from lab.verify.result import CheckResult
history = History(sys.argv[1])
for n in range(100000):
    results = [CheckResult(f"c{{i}}", "g", "t", "m", "pass",
                           metrics={{"x": [float(n)] * {SAMPLES_PER_CHECK}}})
               for i in range({CHECKS_PER_RUN})]
    print(f"begin {{n}}", flush=True)
    history.record_run(RunRecord(lab="crash", started_at=time.time(), results=results,
                                 config={{"n": n}}))
    print(f"committed {{n}}", flush=True)
"""


def _run(lab: str, passed: bool, iops: float, t: float) -> RunRecord:
    return RunRecord(lab=lab, started_at=t, topology_hash="h", config={"kernel": "6.1"},
                     results=[CheckResult("disk", "storage", "500", str(iops),
                                          "pass" if passed else "fail",
                                          metrics={"iops": [iops, iops + 1]})])


def test_runs_round_trip_with_checks_metrics_and_config(tmp_path):
    with History.for_lab(tmp_path) as history:
        run_id = history.record_run(_run("demo", True, 500.0, 1.0))
        run = history.run(run_id)
    assert run.passed and run.config == {"kernel": "6.1"} and run.topology_hash == "h"
    assert run.results[0].metrics == {"iops": [500.0, 501.0]}


def test_last_good_run_pin_and_summary(tmp_path):
    with History.for_lab(tmp_path) as history:
        good = history.record_run(_run("demo", True, 500, 1))
        bad = history.record_run(_run("demo", False, 9000, 2))
        history.record_run(_run("other", True, 1, 3))
        assert history.last_good_run("demo").id == good
        assert history.baseline("demo").id == good
        history.pin(bad)
        assert history.baseline("demo").id == bad
        history.unpin("demo")
        summary = history.summary("demo")
        assert (summary.runs_total, summary.passed_total, summary.last_run_id) == (2, 1, bad)
        assert summary.pass_ratio == 0.5
        series = history.metric_series("demo", "disk", "iops")
        assert [(p.run_id, p.samples) for p in series] == [(good, [500, 501]), (bad, [9000, 9001])]
        with pytest.raises(KeyError):
            history.pin(12345)


def _kill_writer_mid_transaction(db: Path) -> tuple[int, str]:
    """Start a writer, SIGKILL it while a run is being written; return (last
    committed run number, last line printed)."""
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(db)], stdout=subprocess.PIPE,
                            text=True, env=os.environ | {"PYTHONUNBUFFERED": "1"})
    last_committed, line = -1, ""
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            line = proc.stdout.readline().strip()
            if line.startswith("committed"):
                last_committed = int(line.split()[1])
            elif line.startswith("begin") and last_committed >= 2:
                time.sleep(0.005)  # inside record_run's transaction
                break
            elif not line:
                break
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        rest = proc.stdout.read().split()
        proc.stdout.close()
    if "committed" in rest:  # the write finished before the kill landed
        last_committed += 1
        line = "committed"
    return last_committed, line


def test_history_survives_kill_9_during_write(tmp_path):
    db = tmp_path / "history.sqlite"
    killed_mid_write = False
    for _ in range(5):  # bounded: a kill that lands between runs proves less, try again
        committed, line = _kill_writer_mid_transaction(db)
        assert committed >= 2
        killed_mid_write = line.startswith("begin")
        if killed_mid_write:
            break
    assert killed_mid_write, "never managed to kill the writer inside a transaction"
    with History(db) as history:
        assert history.integrity_ok()
        runs = history.runs("crash")
        assert len(runs) >= 3
        for run in runs:  # every stored run is whole: no torn run
            assert len(run.results) == CHECKS_PER_RUN
            assert all(len(r.metrics["x"]) == SAMPLES_PER_CHECK for r in run.results)
        # and the database still takes writes
        history.record_run(_run("crash", True, 1, time.time()))
