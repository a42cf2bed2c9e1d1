"""What the report pages show, as plain data (no HTML): check rows with their
evidence links, per-check history with the flaky marker, the config as rows.

Evidence: a check's evidence is a path or a short text that may contain
absolute paths. Each absolute path becomes a link, relative to the page when
it lies under the results directory (so the report works over file:// and
when the results directory is served over HTTP), a file:// URL otherwise;
a path that does not exist is shown as missing rather than as a dead link.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab.report.flaky import FLAKY_CHANGES, FLAKY_RUNS, consecutive_failures, is_flaky, outcome_changes
from lab.report.history import RunRecord
from lab.verify.result import CheckResult

VERDICT_ORDER = {"error": 0, "fail": 1, "inconclusive": 2, "skipped": 3, "pass": 4}
VERDICT_GLYPH = {"pass": "✓", "fail": "✗", "error": "!", "inconclusive": "?", "skipped": "–"}
# an absolute path starts a word: "ICMP 0/0" and "vm1/data2" are not paths
_PATH = re.compile(r"(?<![\w./:-])(/[^\s,;()\[\]]+)")
_NOT_ID = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Piece:
    """Part of an evidence text: plain text, or a link (href set)."""

    text: str
    href: str = ""
    missing: bool = False


@dataclass(frozen=True)
class CheckRow:
    result: CheckResult
    evidence: list[Piece]
    streak: int = 0
    flaky: bool = False
    changes: int = 0

    @property
    def anchor(self) -> str:
        """An HTML id for the row: check names (group first) have slashes and colons."""
        return "check-" + _NOT_ID.sub("-", self.result.name)


@dataclass
class CheckHistory:
    """One check across the runs shown: verdicts oldest first (None: not run)."""

    group: str
    name: str
    verdicts: list[str | None] = field(default_factory=list)
    changes: int = 0
    flaky: bool = False
    streak: int = 0


def run_page(run_id: int) -> str:
    """Path of a run's page, relative to the report directory."""
    return f"runs/{run_id}.html"


def evidence_pieces(evidence: str, page_dir: Path, results_dir: Path) -> list[Piece]:
    pieces: list[Piece] = []
    for i, part in enumerate(_PATH.split(evidence)):
        if not part:
            continue
        if i % 2 == 0:
            pieces.append(Piece(part))
            continue
        path = Path(part)
        if results_dir.resolve() in path.resolve().parents:
            href = os.path.relpath(path.resolve(), page_dir.resolve())
        else:
            href = path.resolve().as_uri()
        pieces.append(Piece(part, href, missing=not path.exists()))
    return pieces


def check_history(runs: Sequence[RunRecord], changes: int = FLAKY_CHANGES,
                  window: int = FLAKY_RUNS) -> list[CheckHistory]:
    """Every check seen in `runs`, failing and flaky ones first."""
    keys: dict[tuple[str, str], CheckHistory] = {}
    for run in runs:
        for r in run.results:
            keys.setdefault((r.group, r.name), CheckHistory(r.group, r.name))
    for (group, name), item in keys.items():
        by_run = [{(r.group, r.name): r.verdict for r in run.results}.get((group, name)) for run in runs]
        item.verdicts = by_run
        item.changes = outcome_changes(by_run, window)
        item.flaky = is_flaky(by_run, changes, window)
        item.streak = consecutive_failures(by_run)
    return sorted(keys.values(), key=lambda h: (not h.streak, not h.flaky, h.group, h.name))


def check_rows(run: RunRecord, history: Sequence[CheckHistory], page_dir: Path,
               results_dir: Path) -> list[CheckRow]:
    """The run's checks, worst verdict first, with evidence links and the history markers."""
    marks = {(h.group, h.name): h for h in history}
    rows = []
    for r in sorted(run.results, key=lambda r: (VERDICT_ORDER.get(r.verdict, 9), r.group, r.name)):
        h = marks.get((r.group, r.name))
        rows.append(CheckRow(r, evidence_pieces(r.evidence, page_dir, results_dir),
                             streak=h.streak if h else 0, flaky=bool(h and h.flaky),
                             changes=h.changes if h else 0))
    return rows


def config_rows(config: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """A nested run config as (dotted key, value) rows, sorted: readable, not JSON."""
    rows: list[tuple[str, str]] = []
    for key in sorted(config, key=str):
        value, name = config[key], f"{prefix}{key}"
        if isinstance(value, dict) and value:
            rows += config_rows(value, f"{name}.")
        elif isinstance(value, list | tuple):
            rows.append((name, ", ".join(map(str, value))))
        else:
            rows.append((name, "" if value is None else str(value)))
    return rows


def counts(run: RunRecord) -> str:
    n = {v: sum(r.verdict == v for r in run.results) for v in VERDICT_ORDER}
    return ", ".join(f"{k} {v}" for v, k in n.items() if k) or "no checks"


def value_table(values: Sequence[tuple[str, str, float]]) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """A plot's drawn values pivoted: x labels as columns, one row per series."""
    xs = list(dict.fromkeys(x for _, x, _ in values))
    cells: dict[str, dict[str, float]] = {}
    for series, x, y in values:
        cells.setdefault(series, {})[x] = y
    return xs, [(s, [f"{row[x]:.6g}" if x in row else "" for x in xs]) for s, row in cells.items()]
