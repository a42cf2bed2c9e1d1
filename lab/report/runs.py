"""Keep a verify run: JUnit XML (for CI), the JSON report (for scripts), its
evidence and a row in the lab's history (for `lab regress`, `lab report`, the
exporter), under the lab's results directory, which survives `lab down`.

    results/<lab>/verify/<time>/   junit.xml, report.json, evidence/ (pcaps, fio)
    results/<lab>/verify/latest.{xml,json}

Run directories are kept for the last N runs (STACKLAB_KEEP_RUNS, default 30);
older ones are deleted whole, so a report on disk never names evidence that
is gone. The history rows of pruned runs stay: trends and baselines need
numbers, not pcaps.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import time
from pathlib import Path

from lab.report.history import History, RunRecord
from lab.report.junit import write_junit
from lab.verify.runner import VerifyRun

KEEP_RUNS_ENV = "STACKLAB_KEEP_RUNS"
DEFAULT_KEEP_RUNS = 30
_RUN_DIR = re.compile(r"^(\d{8}T\d{6}Z)(?:-(\d+))?$")


class RetentionError(ValueError):
    """A retention setting that is not a positive whole number."""


def keep_runs(option: int | None = None) -> int:
    """How many run directories to keep: the option, else $STACKLAB_KEEP_RUNS, else 30."""
    if option is not None:
        value, source = str(option), "--keep-runs"
    else:
        value, source = os.environ.get(KEEP_RUNS_ENV, str(DEFAULT_KEEP_RUNS)), KEEP_RUNS_ENV
    if not value.strip().isdigit() or int(value) < 1:
        raise RetentionError(f"{source}={value!r}: give a whole number of runs >= 1 "
                             f"(default {DEFAULT_KEEP_RUNS})")
    return int(value)


def to_record(run: VerifyRun) -> RunRecord:
    return RunRecord(lab=run.lab, started_at=run.started_at, results=run.results,
                     topology_hash=run.topology_hash, config=run.config,
                     duration_s=run.duration_s, id=run.run_id)


def new_run_dir(results_dir: str | Path, started_at: float | None = None) -> Path:
    """A fresh directory for one run, even for two runs in the same second;
    create it before the checks run, so they can keep evidence in it."""
    parent = Path(results_dir) / "verify"
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if started_at is None else started_at))
    parent.mkdir(parents=True, exist_ok=True)
    # after the newest of this second: a name freed by pruning would sort
    # before the kept runs and be pruned first, or hide which run is latest
    start = 1 + max((int(m.group(2) or 0) for p in parent.glob(f"{stamp}*")
                     if (m := _RUN_DIR.match(p.name)) and m.group(1) == stamp), default=-1)
    for n in range(start, start + 1000):
        candidate = parent / (stamp if n == 0 else f"{stamp}-{n}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        return candidate
    raise RuntimeError(f"cannot create a run directory under {parent}")


def record_run(run: VerifyRun, results_dir: str | Path, history: bool = True,
               keep: int | None = None) -> VerifyRun:
    """Keep the run: its history row (if `history`; sets run_id), then its
    files in its run directory (sets run_dir, junit_path, json_path), then
    prune run directories beyond the last `keep` (default: keep_runs())."""
    results_dir = Path(results_dir)
    keep = keep_runs() if keep is None else keep
    if history:
        with History.for_lab(results_dir) as store:
            run.run_id = store.record_run(to_record(run))
    write_outputs(run, results_dir)
    prune_runs(results_dir, keep, protect=run.run_dir)
    return run


UNKNOWN = "unknown"


def junit_properties(run: VerifyRun | RunRecord) -> dict[str, str]:
    """What a CI page shows about the rig next to the results. Never an empty
    value: a run recorded before a field existed says "unknown" (an empty
    property reads as a bug in the report, not as missing data)."""
    config = run.config or {}
    run_id = run.run_id if isinstance(run, VerifyRun) else run.id
    props = {"lab": run.lab, "run.id": "" if run_id is None else str(run_id),
             "kernel": config.get("kernel"),
             "stacklab.version": (config.get("versions") or {}).get("stacklab"),
             "topology.hash": run.topology_hash, "provider": config.get("provider"),
             "host": config.get("host") or socket.gethostname()}
    return {k: str(v) if v not in (None, "") else UNKNOWN for k, v in props.items()}


def write_outputs(run: VerifyRun, results_dir: Path) -> None:
    """Write the run's JUnit XML and JSON report into its run directory and
    refresh results_dir/verify/latest.{xml,json} (atomic renames)."""
    out = run.run_dir or new_run_dir(results_dir, run.started_at)
    run.run_dir = out
    run.junit_path, run.json_path = out / "junit.xml", out / "report.json"
    write_junit(run.results, run.junit_path, suite=run.lab, timestamp=run.started_at,
                properties=junit_properties(run))
    report = run.to_json() | {"run": {"id": run.run_id, "lab": run.lab, "started_at": run.started_at,
                                      "duration_s": run.duration_s, "dir": str(out),
                                      "topology_hash": run.topology_hash, "config": run.config}}
    _atomic_write(run.json_path, json.dumps(report, indent=2, default=str))
    _atomic_write(results_dir / "verify" / "latest.json", run.json_path.read_text())
    _atomic_write(results_dir / "verify" / "latest.xml", run.junit_path.read_text())


def run_dirs(results_dir: str | Path) -> list[Path]:
    """The lab's run directories, oldest first."""
    parent = Path(results_dir) / "verify"
    found = [(m.group(1), int(m.group(2) or 0), p) for p in parent.glob("*")
             if p.is_dir() and (m := _RUN_DIR.match(p.name))]
    return [p for *_, p in sorted(found)]


def prune_runs(results_dir: str | Path, keep: int, protect: Path | None = None) -> list[Path]:
    """Delete all but the newest `keep` run directories (never `protect`,
    the run just written); returns what went."""
    doomed = [p for p in (run_dirs(results_dir)[:-keep] if keep > 0 else []) if p != protect]
    for path in doomed:
        shutil.rmtree(path, ignore_errors=True)
    return doomed


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
