"""Verification history: every verify run of a lab, in SQLite in its results directory
(beside the lab's state, not in it: `lab down` deletes the state, and a nightly
up/regress/down keeps its baseline from night to night).

Why SQLite in WAL mode: a run is written in one transaction, so a crash (even
kill -9 mid-write) leaves either the whole run or none of it, never a torn
database; readers (the exporter, `lab report`) never block the writer.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from lab.paths import results_dir
from lab.verify.names import current_name, names_of
from lab.verify.result import CheckResult

__all__ = ["History", "MetricPoint", "RunRecord", "RunSummary", "history_path", "known_result_labs",
           "results_dir"]

HISTORY_FILE = "history.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at REAL NOT NULL,
    duration_s REAL NOT NULL DEFAULT 0,
    lab TEXT NOT NULL,
    topology_hash TEXT NOT NULL DEFAULT '',
    config TEXT NOT NULL DEFAULT '{}',
    passed INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_lab ON runs(lab, id);
CREATE TABLE IF NOT EXISTS checks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    grp TEXT NOT NULL,
    target TEXT NOT NULL,
    measured TEXT NOT NULL,
    verdict TEXT NOT NULL,
    evidence TEXT NOT NULL DEFAULT '',
    duration_s REAL NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS checks_run ON checks(run_id);
CREATE TABLE IF NOT EXISTS samples (
    check_id INTEGER NOT NULL REFERENCES checks(id) ON DELETE CASCADE,
    metric TEXT NOT NULL,
    seq INTEGER NOT NULL,
    value REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS samples_check ON samples(check_id);
CREATE TABLE IF NOT EXISTS pins (
    lab TEXT PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    pinned_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS regress_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    lab TEXT NOT NULL,
    baseline_run_id INTEGER,
    current_run_id INTEGER NOT NULL,
    regressions INTEGER NOT NULL,
    report TEXT NOT NULL
);
"""


@dataclass
class RunRecord:
    """One verify run as stored: the results plus what the lab was made of."""

    lab: str
    started_at: float
    results: list[CheckResult]
    topology_hash: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    duration_s: float = 0.0
    id: int | None = None

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)


@dataclass(frozen=True)
class RunSummary:
    runs_total: int
    passed_total: int
    last_run_at: float | None
    last_run_passed: bool | None
    last_run_id: int | None

    @property
    def pass_ratio(self) -> float:
        return self.passed_total / self.runs_total if self.runs_total else 0.0


@dataclass(frozen=True)
class MetricPoint:
    run_id: int
    started_at: float
    samples: list[float]


def history_path(lab_dir: str | Path) -> Path:
    return Path(lab_dir) / HISTORY_FILE


def known_result_labs() -> list[str]:
    root = results_dir("_").parent
    return sorted(p.name for p in root.iterdir() if (p / HISTORY_FILE).exists()) \
        if root.exists() else []


class History:
    """The history store of one lab directory. Use as a context manager.
    Checks read back under their current names (lab.verify.names.RENAMED)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        if not self._has_schema():  # readers (the exporter) never take the write lock
            with self._transaction():
                for statement in filter(str.strip, _SCHEMA.split(";")):
                    self._db.execute(statement)

    def _has_schema(self) -> bool:
        names = {row[0] for row in self._db.execute("SELECT name FROM sqlite_master")}
        return {"runs", "checks", "samples", "pins", "regress_runs"} <= names

    @classmethod
    def for_lab(cls, lab_dir: str | Path) -> History:
        return cls(history_path(lab_dir))

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT: all or nothing, one writer at a time."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # -- writing ---------------------------------------------------------

    def record_run(self, run: RunRecord) -> int:
        """Append a run with its checks and samples in one transaction; return its id."""
        with self._transaction() as db:
            cur = db.execute(
                "INSERT INTO runs (started_at, duration_s, lab, topology_hash, config, passed)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (run.started_at, run.duration_s, run.lab, run.topology_hash,
                 json.dumps(run.config, sort_keys=True, default=str), int(run.passed)),
            )
            run_id = int(cur.lastrowid)
            for result in run.results:
                self._insert_check(db, run_id, result)
        run.id = run_id
        return run_id

    @staticmethod
    def _insert_check(db: sqlite3.Connection, run_id: int, r: CheckResult) -> None:
        cur = db.execute(
            "INSERT INTO checks (run_id, name, grp, target, measured, verdict, evidence, duration_s)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (run_id, r.name, r.group, r.target, r.measured, r.verdict, r.evidence, r.duration_s),
        )
        check_id = cur.lastrowid
        db.executemany(
            "INSERT INTO samples (check_id, metric, seq, value) VALUES (?, ?, ?, ?)",
            [(check_id, metric, i, float(v))
             for metric, values in r.metrics.items() for i, v in enumerate(values)],
        )

    def pin(self, run_id: int) -> None:
        """Make a run the baseline of its lab for `lab regress` until unpinned."""
        row = self._db.execute("SELECT lab FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise KeyError(f"no run {run_id} in {self.path}")
        with self._transaction() as db:
            db.execute("INSERT OR REPLACE INTO pins (lab, run_id, pinned_at) VALUES (?, ?, ?)",
                       (row["lab"], run_id, time.time()))

    def unpin(self, lab: str) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM pins WHERE lab = ?", (lab,))

    def record_regress(self, lab: str, baseline_run_id: int | None, current_run_id: int,
                       regressions: int, report: dict[str, Any]) -> int:
        """Keep the outcome of a `lab regress` so dashboards can show regressions over time."""
        with self._transaction() as db:
            cur = db.execute(
                "INSERT INTO regress_runs (at, lab, baseline_run_id, current_run_id, regressions,"
                " report) VALUES (?, ?, ?, ?, ?, ?)",
                (time.time(), lab, baseline_run_id, current_run_id, regressions,
                 json.dumps(report, default=str)),
            )
            return int(cur.lastrowid)

    # -- reading ---------------------------------------------------------

    def labs(self) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT DISTINCT lab FROM runs ORDER BY lab")]

    def run(self, run_id: int) -> RunRecord:
        row = self._db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise KeyError(f"no run {run_id} in {self.path}")
        return self._load(row)

    def runs(self, lab: str | None = None, limit: int | None = None) -> list[RunRecord]:
        """Runs oldest first (the last `limit` of them), with their checks."""
        where, args = ("WHERE lab = ?", [lab]) if lab else ("", [])
        sql = f"SELECT * FROM runs {where} ORDER BY id DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        rows = self._db.execute(sql, args).fetchall()
        return [self._load(row) for row in reversed(rows)]

    def latest_run(self, lab: str | None = None) -> RunRecord | None:
        runs = self.runs(lab, limit=1)
        return runs[0] if runs else None

    def last_good_run(self, lab: str, before: int | None = None) -> RunRecord | None:
        sql = "SELECT * FROM runs WHERE lab = ? AND passed = 1"
        args: list[Any] = [lab]
        if before is not None:
            sql += " AND id < ?"
            args.append(before)
        row = self._db.execute(sql + " ORDER BY id DESC LIMIT 1", args).fetchone()
        return self._load(row) if row else None

    def pinned_run_id(self, lab: str) -> int | None:
        row = self._db.execute("SELECT run_id FROM pins WHERE lab = ?", (lab,)).fetchone()
        return int(row[0]) if row else None

    def baseline(self, lab: str, before: int | None = None) -> RunRecord | None:
        """The pinned run if there is one, else the last run that passed."""
        pinned = self.pinned_run_id(lab)
        if pinned is not None and pinned != before:
            return self.run(pinned)
        return self.last_good_run(lab, before=before)

    def summary(self, lab: str) -> RunSummary:
        total, passed = self._db.execute(
            "SELECT COUNT(*), COALESCE(SUM(passed), 0) FROM runs WHERE lab = ?", (lab,)).fetchone()
        last = self._db.execute(
            "SELECT id, started_at, passed FROM runs WHERE lab = ? ORDER BY id DESC LIMIT 1",
            (lab,)).fetchone()
        return RunSummary(
            runs_total=int(total), passed_total=int(passed),
            last_run_at=last["started_at"] if last else None,
            last_run_passed=bool(last["passed"]) if last else None,
            last_run_id=int(last["id"]) if last else None,
        )

    def metric_series(self, lab: str, check: str, metric: str) -> list[MetricPoint]:
        """The samples of one check's metric in every run that has it, oldest
        first; runs from before a rename count (lab.verify.names)."""
        names = names_of(current_name(check))
        rows = self._db.execute(
            "SELECT r.id, r.started_at, s.value FROM runs r JOIN checks c ON c.run_id = r.id"
            " JOIN samples s ON s.check_id = c.id"
            f" WHERE r.lab = ? AND c.name IN ({', '.join('?' * len(names))}) AND s.metric = ?"
            " ORDER BY r.id, s.seq", (lab, *names, metric)).fetchall()
        points: dict[int, MetricPoint] = {}
        for row in rows:
            point = points.setdefault(row[0], MetricPoint(row[0], row[1], []))
            point.samples.append(row[2])
        return list(points.values())

    def regress_runs(self, lab: str, limit: int = 100) -> list[dict[str, Any]]:
        rows = self._db.execute(
            "SELECT id, at, baseline_run_id, current_run_id, regressions FROM regress_runs"
            " WHERE lab = ? ORDER BY id DESC LIMIT ?", (lab, limit)).fetchall()
        return [dict(row) for row in reversed(rows)]

    def verdict_history(self, lab: str, limit: int = 100) -> list[tuple[int, dict[tuple[str, str], str]]]:
        """(run id, {(group, check): verdict}) of the last `limit` runs, oldest first;
        reads no samples, so the exporter can afford it at every scrape."""
        rows = self._db.execute(
            "SELECT r.id, c.grp, c.name, c.verdict FROM runs r JOIN checks c ON c.run_id = r.id"
            " WHERE r.id IN (SELECT id FROM runs WHERE lab = ? ORDER BY id DESC LIMIT ?)"
            " ORDER BY r.id, c.id", (lab, limit)).fetchall()
        runs: dict[int, dict[tuple[str, str], str]] = {}
        for run_id, group, name, verdict in rows:
            runs.setdefault(run_id, {})[(group, current_name(name))] = verdict
        return list(runs.items())

    def regress_report_of_run(self, run_id: int) -> dict[str, Any] | None:
        """The latest comparison that had `run_id` as its current run, if any."""
        row = self._db.execute("SELECT report FROM regress_runs WHERE current_run_id = ?"
                               " ORDER BY id DESC LIMIT 1", (run_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def latest_regress_report(self, lab: str) -> dict[str, Any] | None:
        row = self._db.execute("SELECT report FROM regress_runs WHERE lab = ? ORDER BY id DESC"
                               " LIMIT 1", (lab,)).fetchone()
        return json.loads(row[0]) if row else None

    def integrity_ok(self) -> bool:
        return self._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    def _load(self, row: sqlite3.Row) -> RunRecord:
        results = []
        for c in self._db.execute("SELECT * FROM checks WHERE run_id = ? ORDER BY id", (row["id"],)):
            metrics: dict[str, list[float]] = {}
            for s in self._db.execute(
                    "SELECT metric, value FROM samples WHERE check_id = ? ORDER BY rowid",
                    (c["id"],)):
                metrics.setdefault(s[0], []).append(s[1])
            results.append(CheckResult(
                name=current_name(c["name"]), group=c["grp"], target=c["target"], measured=c["measured"],
                verdict=c["verdict"], evidence=c["evidence"], metrics=metrics,
                duration_s=c["duration_s"]))
        return RunRecord(
            lab=row["lab"], started_at=row["started_at"], results=results,
            topology_hash=row["topology_hash"], config=json.loads(row["config"]),
            duration_s=row["duration_s"], id=int(row["id"]))
