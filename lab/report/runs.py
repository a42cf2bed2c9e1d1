"""Keep a verify run: JUnit XML (for CI), the JSON report (for scripts) and a
row in the lab's history (for `lab regress`, `lab report`, the exporter),
under the lab's results directory, which survives `lab down`."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from lab.report.history import History, RunRecord
from lab.report.junit import write_junit
from lab.verify.runner import VerifyRun


def to_record(run: VerifyRun) -> RunRecord:
    return RunRecord(lab=run.lab, started_at=run.started_at, results=run.results,
                     topology_hash=run.topology_hash, config=run.config,
                     duration_s=run.duration_s, id=run.run_id)


def record_run(run: VerifyRun, results_dir: str | Path, history: bool = True) -> VerifyRun:
    """Write the run's files and (if `history`) its history row; sets the run's
    run_id, junit_path and json_path."""
    results_dir = Path(results_dir)
    write_outputs(run, results_dir)
    if history:
        with History.for_lab(results_dir) as store:
            run.run_id = store.record_run(to_record(run))
    return run


def write_outputs(run: VerifyRun, results_dir: Path) -> None:
    """Write the run's JUnit XML and JSON report under results_dir/verify/<stamp>/
    and refresh results_dir/verify/latest.{xml,json} (atomic renames)."""
    out = _new_run_dir(results_dir / "verify", run.started_at)
    run.junit_path, run.json_path = out / "junit.xml", out / "report.json"
    write_junit(run.results, run.junit_path, suite=run.lab, timestamp=run.started_at)
    report = run.to_json() | {"run": {"lab": run.lab, "started_at": run.started_at,
                                      "duration_s": run.duration_s,
                                      "topology_hash": run.topology_hash, "config": run.config}}
    _atomic_write(run.json_path, json.dumps(report, indent=2, default=str))
    _atomic_write(results_dir / "verify" / "latest.json", run.json_path.read_text())
    _atomic_write(results_dir / "verify" / "latest.xml", run.junit_path.read_text())


def _new_run_dir(parent: Path, started_at: float) -> Path:
    """A fresh directory per run, even for two runs in the same second."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(started_at))
    parent.mkdir(parents=True, exist_ok=True)
    for n in range(1000):
        candidate = parent / (stamp if n == 0 else f"{stamp}-{n}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        return candidate
    raise RuntimeError(f"cannot create a run directory under {parent}")


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
