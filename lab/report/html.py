"""`lab report`: a self-contained HTML report (index.html + PNGs) from the history.

People would rather look than read: the page leads with the verdict and the
plots, then the failing checks, the latest regression comparison and the run
history with what changed between runs.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Callable
from pathlib import Path

from jinja2 import Environment, select_autoescape

from lab.report import plots
from lab.report.history import History, RunRecord

VERDICT_ORDER = {"error": 0, "fail": 1, "inconclusive": 2, "skipped": 3, "pass": 4}

_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>stacklab report: {{ lab }}</title>
<style>
 body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
 h1 { margin-bottom: .2em; } .muted { color: #666; }
 .verdict { font-size: 1.4em; font-weight: bold; padding: .3em .8em; border-radius: .3em;
            display: inline-block; color: white; }
 .ok { background: #2e7d32; } .bad { background: #c62828; }
 table { border-collapse: collapse; width: 100%; margin: 1em 0; font-size: .9em; }
 th, td { border-bottom: 1px solid #ddd; padding: .35em .5em; text-align: left; vertical-align: top; }
 th { background: #f5f5f5; }
 td.pass { color: #2e7d32; } td.fail { color: #c62828; font-weight: bold; }
 td.error { color: #6a1b9a; font-weight: bold; } td.skipped { color: #a67c00; }
 td.inconclusive { color: #e65100; font-weight: bold; }
 img { max-width: 100%; border: 1px solid #eee; margin: .5em 0; }
 code { background: #f5f5f5; padding: 0 .2em; }
</style></head><body>
<h1>Lab <code>{{ lab }}</code></h1>
<p class="muted">Generated {{ generated }} from {{ history_path }}</p>
{% if latest %}
<p><span class="verdict {{ 'ok' if latest.passed else 'bad' }}">
 {{ 'PASSED' if latest.passed else 'FAILED' }}</span>
 latest run #{{ latest.id }} at {{ when(latest.started_at) }}: {{ counts }}
 &middot; topology <code>{{ latest.topology_hash }}</code></p>
{% endif %}
{% for title, image in images %}<h2>{{ title }}</h2><img src="{{ image }}" alt="{{ title }}">
{% endfor %}
{% if latest %}
<h2>Checks in run #{{ latest.id }}</h2>
<table><tr><th>group</th><th>check</th><th>target</th><th>measured</th><th>verdict</th><th>evidence</th></tr>
{% for r in checks %}<tr><td>{{ r.group }}</td><td>{{ r.name }}</td><td>{{ r.target }}</td>
<td>{{ r.measured }}</td><td class="{{ r.verdict }}">{{ r.verdict }}</td><td>{{ r.evidence }}</td></tr>
{% endfor %}</table>
{% endif %}
{% if regress %}
<h2>Latest regression comparison</h2>
<p>Run #{{ regress.current_run_id }} against {{ regress.baseline_kind }} baseline
 #{{ regress.baseline_run_id }}: {{ 'no regression' if regress.passed else 'REGRESSED' }}</p>
{% if regress.regressions %}<table><tr><th>check</th><th>metric</th><th>baseline</th><th>current</th>
<th>change</th><th>p-value</th><th>why</th></tr>
{% for c in regress.regressions %}<tr><td>{{ c.check }}</td><td>{{ c.metric }}</td>
<td>{{ '%.4g' % c.baseline }}</td><td>{{ '%.4g' % c.current }}</td><td>{{ '%+.1f' % c.change_pct }}%</td>
<td>{{ '%.2g' % c.p_value if c.p_value is not none else 'n/a' }}</td><td>{{ c.reason }}</td></tr>
{% endfor %}</table>{% endif %}
{% if regress.newly_failing %}<p>Newly failing: {{ regress.newly_failing | join(', ') }}</p>{% endif %}
{% if regress.config_diff %}<p>Configuration difference:</p>
<table><tr><th>item</th><th>baseline</th><th>current</th></tr>
{% for key, d in regress.config_diff.items() %}
<tr><td>{{ key }}</td><td>{{ d.baseline }}</td><td>{{ d.current }}</td></tr>
{% endfor %}</table>{% endif %}
{% endif %}
<h2>Run history</h2>
<table><tr><th>run</th><th>time</th><th>result</th><th>checks</th><th>duration</th><th>topology</th><th>config</th></tr>
{% for run in runs|reverse %}<tr><td>#{{ run.id }}</td><td>{{ when(run.started_at) }}</td>
<td class="{{ 'pass' if run.passed else 'fail' }}">{{ 'pass' if run.passed else 'fail' }}</td>
<td>{{ run.results|length }}</td><td>{{ '%.0f' % run.duration_s }} s</td>
<td><code>{{ run.topology_hash }}</code></td><td><code>{{ config(run) }}</code></td></tr>
{% endfor %}</table>
</body></html>
"""


def _when(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def _counts(run: RunRecord) -> str:
    counts = {v: sum(r.verdict == v for r in run.results) for v in VERDICT_ORDER}
    return ", ".join(f"{n} {v}" for v, n in counts.items() if n) or "no checks"


def _plots(runs: list[RunRecord], latest: RunRecord | None, out: Path,
           tolerance_pct: float) -> list[tuple[str, str]]:
    jobs: list[tuple[str, str, Callable[[Path], Path | None]]] = [
        ("Pass/fail history", "pass_fail_history.png", lambda p: plots.pass_fail_history(runs, p)),
        ("IOPS vs cap per disk", "iops_vs_cap.png",
         lambda p: plots.iops_vs_cap(latest, p, tolerance_pct) if latest else None),
        ("IOPS over time", "iops_over_time.png", lambda p: plots.iops_over_time(runs, p)),
        ("LB distribution over backends", "lb_distribution.png",
         lambda p: plots.lb_distribution(runs, p)),
        ("Other metrics over time", "metric_trends.png", lambda p: plots.metric_trends(runs, p)),
    ]
    return [(title, name) for title, name, job in jobs if job(out / name)]


def render_report(lab_dir: str | Path, out_dir: str | Path | None = None, lab: str | None = None,
                  last: int = 30, tolerance_pct: float = 5.0) -> Path:
    """Write out_dir/index.html (default lab_dir/report) with its PNGs; return the index path."""
    lab_dir = Path(lab_dir)
    out = Path(out_dir) if out_dir else lab_dir / "report"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    with History.for_lab(lab_dir) as history:
        lab = lab or (history.labs() or [lab_dir.name])[-1]
        runs = history.runs(lab, limit=last)
        regress = history.latest_regress_report(lab)
        path = history.path
    latest = runs[-1] if runs else None
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    html = env.from_string(_TEMPLATE).render(
        lab=lab, generated=_when(dt.datetime.now().timestamp()), history_path=path,
        latest=latest, counts=_counts(latest) if latest else "",
        checks=sorted(latest.results, key=lambda r: (VERDICT_ORDER.get(r.verdict, 9), r.group, r.name))
        if latest else [],
        images=_plots(runs, latest, out, tolerance_pct), regress=regress, runs=runs,
        when=_when, config=lambda run: json.dumps(run.config, sort_keys=True))
    index = out / "index.html"
    index.write_text(html)
    return index
