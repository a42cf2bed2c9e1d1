"""Jinja templates of the report: one layout, the index and a page per run.

Order on every page: the verdict and what failed first (that is what the
person opening the report at 8 am wants), then trends, then the detail.
"""

from __future__ import annotations

from jinja2 import DictLoader, Environment, select_autoescape

_LAYOUT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{% block title %}{% endblock %}</title>
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
 td.none { color: #bbb; } table.matrix td { text-align: center; padding: .2em; }
 table.matrix td.name { text-align: left; }
 .flaky { background: #fff3e0; color: #e65100; border-radius: .3em; padding: 0 .3em; font-size: .85em; }
 .missing { color: #c62828; }
 img { max-width: 100%; border: 1px solid #eee; margin: .5em 0; }
 code { background: #f5f5f5; padding: 0 .2em; }
</style></head><body>
{% block body %}{% endblock %}
</body></html>
"""

_MACROS = """
{% macro evidence(pieces) -%}
{% for p in pieces %}{% if p.href and not p.missing %}<a href="{{ p.href }}">{{ p.text }}</a>
{%- elif p.href %}<span class="missing" title="not found">{{ p.text }} (missing)</span>
{%- else %}{{ p.text }}{% endif %}{% endfor %}
{%- endmacro %}

{% macro marks(row) -%}
{% if row.flaky %} <span class="flaky" title="outcome changed {{ row.changes }} times in the last
 {{ flaky_runs }} runs">flaky</span>{% endif %}
{%- if row.streak > 1 %} <span class="muted">failing {{ row.streak }} runs in a row</span>{% endif %}
{%- endmacro %}

{% macro checks_table(rows, ids=True) -%}
<table><tr><th>verdict</th><th>group</th><th>check</th><th>target</th><th>measured</th><th>evidence</th></tr>
{% for row in rows %}<tr{% if ids %} id="{{ row.anchor }}"{% endif %}>
<td class="{{ row.result.verdict }}">{{ row.result.verdict }}</td>
<td>{{ row.result.group }}</td><td>{{ row.result.name }}{{ marks(row) }}</td><td>{{ row.result.target }}</td>
<td>{{ row.result.measured }}</td><td>{{ evidence(row.evidence) }}</td></tr>
{% endfor %}</table>
{%- endmacro %}

{% macro verdict(run, counts, href="") -%}
<p><span class="verdict {{ 'ok' if run.passed else 'bad' }}">{{ 'PASSED' if run.passed else 'FAILED' }}</span>
 {% if href %}<a href="{{ href }}">run #{{ run.id }}</a>{% else %}run #{{ run.id }}{% endif %}
 at {{ when(run.started_at) }}: {{ counts }} &middot; topology <code>{{ run.topology_hash }}</code></p>
{%- endmacro %}

{% macro regression(regress) -%}
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
{%- endmacro %}

{% macro config_table(rows) -%}
<table class="config"><tr><th>setting</th><th>value</th></tr>
{% for key, value in rows %}<tr><td><code>{{ key }}</code></td><td>{{ value }}</td></tr>{% endfor %}
</table>
{%- endmacro %}
"""

_INDEX = """{% extends "layout" %}{% import "macros" as ui with context %}
{% block title %}stacklab report: {{ lab }}{% endblock %}
{% block body %}
<h1>Lab <code>{{ lab }}</code></h1>
<p class="muted">Generated {{ generated }} from {{ history_path }}</p>
{% if latest %}
{{ ui.verdict(latest, counts, run_page(latest.id)) }}
{% if failing %}<h2>Failing checks</h2>{{ ui.checks_table(failing) }}{% endif %}
{% endif %}
{% if regress %}<h2>Latest regression comparison</h2>{{ ui.regression(regress) }}{% endif %}
{% if plots %}<h2>Trends</h2>{% endif %}
{% for plot in plots %}<h3>{{ plot.title }}</h3><img src="{{ plot.image }}" alt="{{ plot.title }}">
<details><summary>values plotted</summary>
<table class="plotted" data-plot="{{ plot.image }}">
<tr><th>series</th>{% for x in plot.xs %}<th>{{ x }}</th>{% endfor %}</tr>
{% for series, cells in plot.rows %}<tr><td>{{ series }}</td>{% for c in cells %}<td>{{ c }}</td>{% endfor %}</tr>
{% endfor %}</table></details>
{% endfor %}
{% if history %}
<h2 id="checks">Checks across runs</h2>
<p class="muted">flaky: the outcome (pass/skipped vs fail/error) changed in at least {{ flaky_changes }}
 of the last {{ flaky_runs }} runs.</p>
<table class="matrix"><tr><th>check</th>
{% for run in runs %}<th><a href="{{ run_page(run.id) }}">#{{ run.id }}</a></th>{% endfor %}</tr>
{% for h in history %}<tr data-check="{{ h.name }}">
<td class="name">{{ h.name }}{{ ui.marks(h) }}</td>
{% for v in h.verdicts %}<td class="{{ v or 'none' }}" title="{{ v or 'not run' }}">{{ glyph.get(v, '·') }}</td>
{% endfor %}</tr>
{% endfor %}</table>
{% endif %}
<h2>Run history</h2>
<table><tr><th>run</th><th>time</th><th>result</th><th>checks</th><th>duration</th><th>topology</th></tr>
{% for run in runs|reverse %}<tr><td><a href="{{ run_page(run.id) }}">#{{ run.id }}</a></td>
<td>{{ when(run.started_at) }}</td>
<td class="{{ 'pass' if run.passed else 'fail' }}">{{ 'pass' if run.passed else 'fail' }}</td>
<td>{{ run.results|length }}</td><td>{{ '%.0f' % run.duration_s }} s</td>
<td><code>{{ run.topology_hash }}</code></td></tr>
{% endfor %}</table>
{% if latest %}<h2>Configuration of run #{{ latest.id }}</h2>
{{ ui.config_table(config_rows(latest.config)) }}{% endif %}
{% endblock %}
"""

_RUN = """{% extends "layout" %}{% import "macros" as ui with context %}
{% block title %}stacklab {{ lab }} run #{{ run.id }}{% endblock %}
{% block body %}
<p><a href="../index.html">&larr; {{ lab }} report</a>
{% if previous %} &middot; <a href="{{ previous.id }}.html">&larr; run #{{ previous.id }}</a>{% endif %}
{% if next %} &middot; <a href="{{ next.id }}.html">run #{{ next.id }} &rarr;</a>{% endif %}</p>
<h1>Lab <code>{{ lab }}</code>, run #{{ run.id }}</h1>
{{ ui.verdict(run, counts) }}
{% if failing %}<h2>Failing checks</h2>{{ ui.checks_table(failing, ids=False) }}{% endif %}
{% if regress %}<h2>Regression comparison</h2>{{ ui.regression(regress) }}{% endif %}
<h2>All checks</h2>{{ ui.checks_table(rows) }}
<h2>Configuration</h2>
{{ ui.config_table([("started", when(run.started_at)), ("duration", '%.1f s' % run.duration_s),
                    ("topology hash", run.topology_hash)] + config_rows(run.config)) }}
{% endblock %}
"""


def environment() -> Environment:
    return Environment(loader=DictLoader({"layout": _LAYOUT, "macros": _MACROS, "index": _INDEX,
                                          "run": _RUN}),
                       autoescape=select_autoescape(default=True, default_for_string=True))
