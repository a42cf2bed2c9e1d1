"""`lab report`: write index.html, one page per run (runs/<id>.html) and the PNGs.

The out directory is rewritten whole each time (it is derived data); evidence
stays where the run keeps it and is linked, not copied.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.report import plots
from lab.report.flaky import FAILED_VERDICTS, FLAKY_CHANGES, FLAKY_RUNS
from lab.report.history import History, RunRecord
from lab.report.html import model
from lab.report.html.templates import environment


@dataclass(frozen=True)
class RenderedPlot:
    title: str
    image: str
    xs: list[str]
    rows: list[tuple[str, list[str]]]


def _when(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def _plots(runs: list[RunRecord], latest: RunRecord | None, out: Path,
           tolerance_pct: float) -> list[RenderedPlot]:
    jobs: list[tuple[str, str, Callable[[Path], plots.Plot | None]]] = [
        ("Pass/fail history", "pass_fail_history.png", lambda p: plots.pass_fail_history(runs, p)),
        ("IOPS vs cap per disk", "iops_vs_cap.png",
         lambda p: plots.iops_vs_cap(latest, p, tolerance_pct) if latest else None),
        ("IOPS over time", "iops_over_time.png", lambda p: plots.iops_over_time(runs, p)),
        ("LB distribution over backends", "lb_distribution.png",
         lambda p: plots.lb_distribution(runs, p)),
        ("Other metrics over time", "metric_trends.png", lambda p: plots.metric_trends(runs, p)),
    ]
    rendered = []
    for title, name, job in jobs:
        plot = job(out / name)
        if plot is not None:
            rendered.append(RenderedPlot(title, name, *model.value_table(plot.values)))
    return rendered


def render_report(lab_dir: str | Path, out_dir: str | Path | None = None, lab: str | None = None,
                  last: int = 30, tolerance_pct: float = 5.0, flaky_changes: int = FLAKY_CHANGES,
                  flaky_runs: int = FLAKY_RUNS) -> Path:
    """Write out_dir/index.html (default lab_dir/report) with a page per run of the
    last `last` runs and the PNGs; return the index path."""
    lab_dir = Path(lab_dir)
    out = Path(out_dir) if out_dir else lab_dir / "report"
    if out.exists():
        shutil.rmtree(out)
    (out / "runs").mkdir(parents=True)
    with History.for_lab(lab_dir) as store:
        lab = lab or (store.labs() or [lab_dir.name])[-1]
        runs = store.runs(lab, limit=last)
        regress = store.latest_regress_report(lab)
        regress_of = {run.id: store.regress_report_of_run(run.id) for run in runs if run.id is not None}
        path = store.path
    history = model.check_history(runs, flaky_changes, flaky_runs)
    env = environment()
    env.globals.update(when=_when, run_page=model.run_page, config_rows=model.config_rows,
                       glyph=model.VERDICT_GLYPH, flaky_changes=flaky_changes, flaky_runs=flaky_runs)
    for i, run in enumerate(runs):  # markers as they stood after that run
        page = out / model.run_page(run.id or 0)
        _write(page, env.get_template("run").render(
            lab=lab, run=run, counts=model.counts(run), regress=regress_of.get(run.id),
            previous=runs[i - 1] if i else None, next=runs[i + 1] if i + 1 < len(runs) else None,
            **_checks(run, model.check_history(runs[:i + 1], flaky_changes, flaky_runs),
                      page.parent, lab_dir)))
    latest = runs[-1] if runs else None
    index = out / "index.html"
    _write(index, env.get_template("index").render(
        lab=lab, generated=_when(dt.datetime.now().timestamp()), history_path=path, latest=latest,
        counts=model.counts(latest) if latest else "", regress=regress, runs=runs, history=history,
        plots=_plots(runs, latest, out, tolerance_pct),
        **(_checks(latest, history, out, lab_dir) if latest else {})))
    return index


def _checks(run: RunRecord, history: list[model.CheckHistory], page_dir: Path,
            results_dir: Path) -> dict[str, Any]:
    rows = model.check_rows(run, history, page_dir, results_dir)
    return {"rows": rows, "failing": [r for r in rows if r.result.verdict in FAILED_VERDICTS]}


def _write(path: Path, text: str) -> None:
    path.write_text(text)
