"""An `inconclusive` check (the rig could not judge) is kept as such everywhere:
JUnit shows it as an error with its reason, the history stores it and never
takes its run as a baseline, and `lab regress` shows its samples without
counting them as a regression."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import xmlschema

from lab.report.exporter import HistoryCollector
from lab.report.history import History, RunRecord
from lab.report.junit import write_junit
from lab.report.regress import compare_runs
from lab.verify.result import CheckResult

SCHEMA = xmlschema.XMLSchema(Path(__file__).with_name("junit.xsd"))
WHY = ("838 IOPS steady, expected >= 2 x 500 (uncapped); inconclusive: host CPU pressure 85% "
       "of the 8 s measured, so the cap cannot be judged")


def _disk(verdict: str, iops: float, measured: str = "") -> CheckResult:
    return CheckResult("storage.vm/prem.randread.control", "storage", "vm/prem (/dev/vdc)",
                       measured or f"{iops:.0f} IOPS steady", verdict, evidence="/lab/vms/vm",
                       metrics={"iops": [iops + d for d in (-3, -1, 0, 1, 2, 4)]})


def _run(run_id: int, verdict: str, iops: float, measured: str = "") -> RunRecord:
    mtu = CheckResult("mtu", "fabric", "1500", "1500", "pass")
    return RunRecord(lab="demo", started_at=1000.0 + run_id, results=[_disk(verdict, iops, measured), mtu])


def test_junit_reports_inconclusive_as_an_error_with_the_reason(tmp_path):
    path = write_junit(_run(1, "inconclusive", 838, WHY).results, tmp_path / "junit.xml", "demo")
    SCHEMA.validate(str(path))
    root = ET.parse(path).getroot()
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("2", "0", "1")
    [error] = root.iter("error")
    assert error.get("type") == "Inconclusive" and "the cap cannot be judged" in error.get("message")


def test_history_keeps_the_verdict_and_never_takes_the_run_as_baseline(tmp_path):
    with History(tmp_path / "history.sqlite") as history:
        good = history.record_run(_run(0, "pass", 2400))
        unsure = history.record_run(_run(0, "inconclusive", 838, WHY))
        stored = history.run(unsure)
        assert [r.verdict for r in stored.results] == ["inconclusive", "pass"]
        assert stored.results[0].measured == WHY and not stored.passed
        assert history.last_good_run("demo").id == good
        assert history.baseline("demo").id == good


def test_regress_shows_inconclusive_samples_but_never_counts_them():
    base, busy = _run(1, "pass", 2400), _run(2, "inconclusive", 838, WHY)
    report = compare_runs(base, busy)
    [c] = report.comparisons
    assert c.outcome == "not_compared" and "inconclusive" in c.reason and c.current < c.baseline
    assert report.passed and not report.regressions and not report.newly_failing
    # the same drop, judged, is a regression: the exemption is the verdict's doing
    assert not compare_runs(base, _run(3, "pass", 838)).passed


def test_exporter_state_set_has_an_inconclusive_member(tmp_path):
    with History.for_lab(tmp_path) as history:
        history.record_run(_run(1, "inconclusive", 838, WHY))
    families = {f.name: f for f in HistoryCollector([tmp_path]).collect()}
    verdicts = {(s.labels["verdict"], s.value) for f in families.values() for s in f.samples
                if s.labels.get("check") == "storage.vm/prem.randread.control" and "verdict" in s.labels}
    assert ("inconclusive", 1.0) in verdicts and ("pass", 0.0) in verdicts


def _mtu(rtt_ms: float, cpu_pressure: float | None) -> CheckResult:
    """As the MTU check records it: RTT samples and the host's load over them."""
    metrics = {"rtt_ms": [rtt_ms * f for f in (0.9, 0.95, 1.0, 1.0, 1.05, 1.1, 1.2)]}
    if cpu_pressure is not None:
        metrics |= {"host_cpu_pressure_pct": [cpu_pressure], "host_io_pressure_pct": [0.0],
                    "host_window_s": [1.4]}
    return CheckResult("fabric.red.mtu", "fabric", "1500 B with DF from red-hv1 to red-hv2",
                       "delivered", "pass", metrics=metrics)


def _night(run_id: int, check: CheckResult) -> RunRecord:
    return RunRecord(lab="nite-busy", started_at=1000.0 + run_id, results=[check], id=run_id)


def test_timings_taken_on_a_busy_host_are_shown_but_not_compared():
    """Measured on this machine with other test runs beside it: RTT 0.15 ms ->
    2.6 ms at 99% CPU pressure. That is the host, not the fabric."""
    report = compare_runs(_night(1, _mtu(0.154, 3.0)), _night(2, _mtu(2.619, 98.7)))
    [c] = report.comparisons  # the host load itself is never compared
    assert c.metric == "rtt_ms" and c.outcome == "not_compared"
    assert c.reason.startswith("current run on a busy host: host CPU pressure 99%")
    assert report.passed and report.unjudged == [c]
    baseline_busy = compare_runs(_night(1, _mtu(2.619, 98.7)), _night(2, _mtu(0.154, 3.0)))
    assert baseline_busy.comparisons[0].reason.startswith("baseline run on a busy host")


def test_the_same_slowdown_on_a_quiet_host_is_a_regression():
    report = compare_runs(_night(1, _mtu(0.154, 3.0)), _night(2, _mtu(2.619, 4.0)))
    assert [c.outcome for c in report.comparisons] == ["regression"] and not report.unjudged
    legacy = compare_runs(_night(1, _mtu(0.154, None)), _night(2, _mtu(2.619, None)))
    assert [c.outcome for c in legacy.comparisons] == ["regression"]  # no load recorded: compared


def test_regress_exits_4_when_it_could_not_compare_a_metric(tmp_path, monkeypatch):
    from lab.exitcodes import ExitCode, for_verdicts
    from lab.paths import results_dir
    from tests.verify.cli_support import as_journal, invoke

    monkeypatch.setenv("STACKLAB_HOME", str(tmp_path))
    with History.for_lab(results_dir("nite-busy")) as history:
        history.record_run(RunRecord("nite-busy", 1000.0, [_mtu(0.154, 3.0)]))
        busy = history.record_run(RunRecord("nite-busy", 2000.0, [_mtu(2.619, 98.7)]))
    as_journal(monkeypatch, 80)
    result = invoke("regress", "--lab", "nite-busy", "--run", busy)
    assert result.exit_code == ExitCode.CANNOT_MEASURE == 4, result.output
    assert "not compared" in result.stdout and "busy host" in result.stdout
    assert for_verdicts(["pass"], regressed=True, unjudged=True) == 4
    assert for_verdicts(["fail"], unjudged=True) == 1
