"""How a verify run reads on screen and in a journal.

Default: one line per check (verdict, name, measured vs target), problems
first, fitted to the console width without cutting words (lab.lines);
`--wide`: the full table with evidence and durations. The JSON report and
JUnit hold everything either way.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

from lab.lines import print_lines
from lab.verify.result import CheckResult
from lab.verify.runner import VERDICT_STYLE, VerifyRun

# problems first, in the order a person acts on them
ORDER = {"fail": 0, "error": 1, "inconclusive": 2, "skipped": 3, "pass": 4}


def ordered(results: Sequence[CheckResult]) -> list[CheckResult]:
    return sorted(results, key=lambda r: (ORDER.get(r.verdict, 1), r.group, r.name))


def verdict_cell(verdict: str) -> Text:
    """Problems in capitals, so they stand out in a colourless journal too."""
    word = verdict if verdict in ("pass", "skipped") else verdict.upper()
    return Text(word, style=VERDICT_STYLE.get(verdict, "bold magenta"))


def measured_vs_target(r: CheckResult) -> str:
    return f"{r.measured}; target {r.target}" if r.target else r.measured


def summary_table(results: Sequence[CheckResult], title: str = "verify") -> Table:
    """The wide table: every field of every check, folded to fit."""
    table = Table(title=title, show_lines=False)
    for column in ("group", "check", "target", "measured", "verdict", "evidence"):
        table.add_column(column, overflow="fold")
    table.add_column("s", justify="right")
    for r in ordered(results):
        table.add_row(Text(r.group), Text(r.name), Text(r.target), Text(r.measured),
                      verdict_cell(r.verdict), Text(r.evidence), f"{r.duration_s:.1f}")
    return table


def render_summary(run: VerifyRun, console: Console | None = None, wide: bool = False) -> None:
    console = console or Console()
    title = f"lab {run.lab}: verify" + (f" run #{run.run_id}" if run.run_id is not None else "")
    if wide:
        console.print(summary_table(run.results, title=title))
    else:
        console.print(title, markup=False, highlight=False)
        print_lines(console, [(verdict_cell(r.verdict), Text(r.name), Text(measured_vs_target(r)))
                              for r in ordered(run.results)])
    counts: dict[str, int] = {}
    for r in run.results:
        counts[r.verdict] = counts.get(r.verdict, 0) + 1
    verdict = "[bold green]PASSED[/]" if run.passed else "[bold red]FAILED[/]"
    parts = ", ".join(f"{n} {v}" for v, n in sorted(counts.items(), key=lambda i: ORDER.get(i[0], 1)))
    console.print(f"{verdict}: {parts or 'no checks'} in {run.duration_s:.1f} s")
    if run.run_dir:
        console.print(f"results: {run.run_dir}", highlight=False, markup=False, soft_wrap=True)
    if run.junit_path and (not run.run_dir or run.junit_path.parent != run.run_dir):
        console.print(f"JUnit: {run.junit_path}", highlight=False, markup=False, soft_wrap=True)
