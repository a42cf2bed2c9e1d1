"""`lab regress` output for every mix of outcomes (all ok, improvement only,
regression, not compared, no baseline), in a table at 80 columns without a
terminal (systemd, cron) and as JSON, through the report and through the
command line: it must never raise, and each mix must really produce its
outcome.

The healthy night (every comparison "ok") used to crash: an unstyled outcome
became the markup "[]ok[/]" and Rich raised MarkupError after the run row was
already saved. "not compared" is what a real run produces when a check was
inconclusive on one side (the host too busy to judge): its samples are shown
with the reason, never counted."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from rich.console import Console

from lab.cli.regress_view import render_regressions
from lab.paths import results_dir
from lab.report.history import History, RunRecord
from lab.report.regress import compare_runs
from lab.verify.result import CheckResult
from tests.verify.cli_support import as_journal, assert_reads_in_a_journal, invoke

LAB = "nite-rr"
RNG = np.random.default_rng(11)
STEADY = [float(v) for v in RNG.normal(5400, 20, 8)]
BUSY = ("838 IOPS steady, expected >= 2 x 500 (uncapped); inconclusive: host CPU pressure 85% "
        "of the 8 s measured, so the cap cannot be judged")


def _night(iops: list[float], verdict: str = "pass", measured: str = "5400 IOPS steady") -> list[CheckResult]:
    disk = CheckResult("storage.red-vm1/fast1.randread.control", "storage",
                       "red-vm1/fast1 (/dev/vdd) at least 2 x the standard cap", measured, verdict,
                       metrics={"iops": iops})
    mtu = CheckResult("fabric.red.mtu", "fabric", "1450 B with DF from red-a to red-b",
                      "delivered", "pass", metrics={"rtt_ms": [0.25, 0.26, 0.24, 0.25, 0.27, 0.25, 0.26]})
    return [disk, mtu]


# mix -> (baseline night, current night, outcomes expected, exit status of `lab regress --run`)
MIXES = {
    "all ok": (_night(STEADY), _night([float(v) for v in RNG.normal(5400, 20, 8)]), {"ok"}, 0),
    "improvement only": (_night(STEADY), _night([float(v) for v in RNG.normal(9000, 20, 8)]),
                         {"improvement", "ok"}, 0),
    "regression": (_night(STEADY), _night([float(v) for v in RNG.normal(4000, 20, 8)]),
                   {"regression", "ok"}, 3),
    # the current night's disk check could not judge: shown, not compared; the
    # run could not measure everything, so the exit status is 4, not 0 or 3
    "not compared": (_night(STEADY), _night([838.0 + d for d in range(8)], "inconclusive", BUSY),
                     {"not_compared", "ok"}, 4),
    "no baseline": (None, _night(STEADY), set(), 0),
}


def _report(mix: str):
    base, cur, *_ = MIXES[mix]
    baseline = RunRecord(lab=LAB, started_at=1000.0, results=base, id=1) if base else None
    return compare_runs(baseline, RunRecord(lab=LAB, started_at=2000.0, results=cur, id=2))


def _plain_console(width: int = 80) -> Console:
    return Console(file=io.StringIO(), width=width, force_terminal=False, color_system=None)


@pytest.mark.parametrize("mix", MIXES)
def test_every_outcome_mix_renders_at_80_columns_without_a_terminal(mix):
    report = _report(mix)
    assert {c.outcome for c in report.comparisons} == MIXES[mix][2]
    console = _plain_console()
    render_regressions(report, console)
    text = console.file.getvalue()
    wide = _plain_console(1000)  # the same lines with room for every word
    render_regressions(report, wide)
    assert_reads_in_a_journal(text, wide.file.getvalue())
    if mix == "no baseline":
        assert "no baseline" in text
    elif mix == "regression":
        assert "REGRESSION" in text and "1 regression(s)" in text
    else:
        assert "no regression" in text
    if mix == "not compared":
        assert "not compared" in text and "inconclusive" in text


@pytest.mark.parametrize("mix", MIXES)
def test_every_outcome_mix_serialises_to_json(mix):
    data = json.loads(json.dumps(_report(mix).to_json()))
    assert data["passed"] is (mix != "regression")
    assert {c["outcome"] for c in data["comparisons"]} == MIXES[mix][2]


@pytest.fixture
def recorded(monkeypatch, tmp_path):
    """Record a mix's nights in a real history store; return the current run's id."""
    monkeypatch.setenv("STACKLAB_HOME", str(tmp_path))

    def record(mix: str) -> int:
        base, cur, *_ = MIXES[mix]
        with History.for_lab(results_dir(LAB)) as history:
            if base is not None:
                history.record_run(RunRecord(lab=LAB, started_at=1000.0, results=base,
                                             config={"kernel": "6.1.0-28"}))
            return history.record_run(RunRecord(lab=LAB, started_at=2000.0, results=cur,
                                                config={"kernel": "6.1.0-31"}))
    return record


@pytest.mark.parametrize("mix", MIXES)
def test_regress_format_json_through_the_command_line(recorded, monkeypatch, mix):
    run_id = recorded(mix)
    as_journal(monkeypatch, 80)
    result = invoke("regress", "--lab", LAB, "--run", run_id, "--format", "json")
    assert result.exit_code == MIXES[mix][3], result.output
    data = json.loads(result.stdout)
    assert set(data) == {"verify", "regress"}
    assert {c["outcome"] for c in data["regress"]["comparisons"]} == MIXES[mix][2]
    assert data["regress"]["current_run_id"] == run_id
    assert data["regress"]["passed"] is (mix != "regression")
    assert [c["name"] for c in data["verify"]["checks"]] == [r.name for r in MIXES[mix][1]]


@pytest.mark.parametrize("mix", MIXES)
def test_regress_table_through_the_command_line_reads_in_a_journal(recorded, monkeypatch, mix):
    run_id = recorded(mix)
    as_journal(monkeypatch, 80)
    narrow = invoke("regress", "--lab", LAB, "--run", run_id)
    assert narrow.exit_code == MIXES[mix][3], narrow.output
    assert "Traceback" not in narrow.output
    as_journal(monkeypatch, 1000)
    wide = invoke("regress", "--lab", LAB, "--run", run_id)
    assert_reads_in_a_journal(narrow.stdout, wide.stdout)


def test_brackets_in_names_and_reasons_print_literally():
    report = _report("all ok")
    report.comparisons[0].check = "lb.[web].dsr"
    report.comparisons[0].reason = "[bold]not markup[/bold]"
    console = _plain_console(200)
    render_regressions(report, console)
    text = console.file.getvalue()
    assert "lb.[web].dsr" in text and "[bold]not markup[/bold]" in text
