"""How a regress report reads at 7 am: each metric with baseline, current
value, change and p-value, then what changed in the lab between the runs.

Default: one line per compared metric, regressions first, fitted to the
console without cutting words (a journal at 80 columns); `wide`: the full
table with the statistical reason of every outcome. Cells are Text, never
markup: an unstyled outcome or a "[..]" in a name or reason prints as it is.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from lab.lines import fit, fit_name, lines
from lab.report.regress import MetricComparison, RegressionReport

OUTCOME_STYLE = {"regression": "bold red", "improvement": "green", "ok": "", "not_compared": "dim"}


def _ordered(report: RegressionReport) -> list[MetricComparison]:
    return sorted(report.comparisons, key=lambda c: (c.outcome != "regression", c.check, c.metric))


def _outcome(c: MetricComparison) -> Text:
    word = "REGRESSION" if c.outcome == "regression" else c.outcome.replace("_", " ")
    return Text(word, style=OUTCOME_STYLE.get(c.outcome, ""))


def _p(c: MetricComparison) -> str:
    return "n/a" if c.p_value is None else f"{c.p_value:.2g}"


def _detail(c: MetricComparison) -> str:
    """Medians, change and p; a metric not compared has no change or p worth
    a column at 80: its line says why, before the cut."""
    if c.outcome == "not_compared":
        return f"{c.baseline:.4g} -> {c.current:.4g}; {c.reason}"
    return f"{c.baseline:.4g} -> {c.current:.4g} ({c.change_pct:+.1f}%) p={_p(c)}; {c.reason}"


def _table(report: RegressionReport, title: str) -> Table:
    table = Table(title=title)
    for column in ("check", "metric", "target", "baseline", "current", "change", "p", "outcome",
                   "why"):
        table.add_column(column, overflow="fold")
    for c in _ordered(report):
        table.add_row(Text(c.check), Text(c.metric), "" if c.target is None else f"{c.target:.4g}",
                      f"{c.baseline:.4g}", f"{c.current:.4g}", f"{c.change_pct:+.1f}%", _p(c),
                      _outcome(c), Text(c.reason))
    return table


def _lines(report: RegressionReport, console: Console, title: str) -> None:
    """Each check's name on its own line, then one line per metric under it,
    so a long check name never crowds out the numbers."""
    console.print(title, markup=False, highlight=False)
    ordered = _ordered(report)
    rows = [("", _outcome(c), Text(c.metric), Text(_detail(c))) for c in ordered]
    previous = None
    for c, line in zip(ordered, lines(rows, console.width), strict=True):
        if c.check != previous:
            console.print(Text(fit_name(c.check, console.width), style="bold"), soft_wrap=True)
            previous = c.check
        console.print(line, soft_wrap=True, no_wrap=True, overflow="ignore", crop=False)


def render(report: RegressionReport, console: Console | None = None, wide: bool = False) -> None:
    console = console or Console()
    if report.baseline_run_id is None:
        console.print("[yellow]no baseline yet[/] (no earlier passing run, nothing pinned): "
                      "this run becomes the reference once it passes")
        return
    title = (f"lab {report.lab}: run #{report.current_run_id} vs {report.baseline_kind} "
             f"baseline #{report.baseline_run_id}")
    if wide:
        console.print(_table(report, title))
    else:
        _lines(report, console, title)
    for name in report.newly_failing:
        console.print(Text.assemble(("newly failing: ", "bold red"), name))
    if report.config_diff:
        console.print("configuration difference (baseline -> current):")
        for key, (old, new) in report.config_diff.items():
            line = f"{key}: {old} -> {new}"
            console.print("  " + (line if wide else fit(line, console.width - 2)), highlight=False,
                          markup=False, soft_wrap=True)
    verdict = "[bold green]no regression[/]" if report.passed else (
        f"[bold red]{len(report.regressions)} regression(s), "
        f"{len(report.newly_failing)} newly failing check(s)[/]")
    console.print(verdict)


def render_regressions(report: RegressionReport, console: Console | None = None,
                       wide: bool = False) -> None:
    """Print the report: one line per metric, or the full table with `wide`."""
    render(report, console, wide)
