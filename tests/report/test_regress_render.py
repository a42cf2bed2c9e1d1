"""`lab regress` output for every mix of outcomes, in a table at 80 columns
without a terminal (systemd, cron) and as JSON: it must never raise.

The healthy night (every comparison "ok") used to crash: an unstyled outcome
became the markup "[]ok[/]" and Rich raised MarkupError after the run row was
already saved."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from rich.console import Console

from lab.cli.regress_view import render_regressions
from lab.report.history import RunRecord
from lab.report.regress import compare_runs
from lab.verify.result import CheckResult

RNG = np.random.default_rng(11)
STEADY = list(RNG.normal(5400, 20, 8))


def _night(run_id: int, iops: list[float], extra: dict[str, list[float]] | None = None) -> RunRecord:
    metrics = {"iops": iops, **(extra or {})}
    disk = CheckResult("storage.vm1/data2.randread", "storage", "uncapped [control]",
                       "5400 IOPS [steady]", "pass", metrics=metrics)
    return RunRecord(lab="demo", started_at=1000.0 + run_id, results=[disk], id=run_id)


MIXES = {
    "all ok": (STEADY, list(RNG.normal(5400, 20, 8)), None),
    "improvement only": (STEADY, list(RNG.normal(9000, 20, 8)), None),
    "regression": (STEADY, list(RNG.normal(4000, 20, 8)), None),
    "not compared": (STEADY, STEADY, {"mystery_metric": [1.0]}),
}


def _report(mix: str):
    base, cur, extra = MIXES[mix]
    baseline = _night(1, base, extra)
    if mix == "not compared":  # a metric of unknown direction is not compared; one without baseline neither
        baseline.results[0].metrics.pop("mystery_metric")
    return compare_runs(baseline, _night(2, cur, extra))


def _plain_console() -> Console:
    return Console(file=io.StringIO(), width=80, force_terminal=False, color_system=None)


@pytest.mark.parametrize("mix", [*MIXES, "no baseline"])
def test_every_outcome_mix_renders_at_80_columns_without_a_terminal(mix):
    report = compare_runs(None, _night(2, STEADY)) if mix == "no baseline" else _report(mix)
    console = _plain_console()
    render_regressions(report, console)
    text = console.file.getvalue()
    assert text.strip()
    assert all(len(line) <= 80 for line in text.splitlines())
    if mix == "no baseline":
        assert "no baseline" in text
    elif mix == "regression":
        assert "regression" in text and "1 regression(s)" in text
    else:
        assert "no regression" in text


@pytest.mark.parametrize("mix", [*MIXES, "no baseline"])
def test_every_outcome_mix_serialises_to_json(mix):
    report = compare_runs(None, _night(2, STEADY)) if mix == "no baseline" else _report(mix)
    data = json.loads(json.dumps(report.to_json()))
    assert data["passed"] is (mix != "regression")
    outcomes = {c["outcome"] for c in data["comparisons"]}
    expected = {"all ok": {"ok"}, "improvement only": {"improvement"}, "regression": {"regression"},
                "not compared": {"ok"}, "no baseline": set()}[mix]
    assert outcomes == expected


def test_brackets_in_names_and_reasons_print_literally():
    report = _report("all ok")
    report.comparisons[0].check = "lb.[web].dsr"
    report.comparisons[0].reason = "[bold]not markup[/bold]"
    console = Console(file=io.StringIO(), width=200, force_terminal=False, color_system=None)
    render_regressions(report, console)
    text = console.file.getvalue()
    assert "lb.[web].dsr" in text and "[bold]not markup[/bold]" in text
