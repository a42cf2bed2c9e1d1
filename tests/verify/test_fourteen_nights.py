"""Acceptance: fourteen synthetic nights in the history store (noise, one real
5 % regression, one check that flaps) through `lab regress --run` in table
mode, at 80 columns without a terminal. No traceback; the regression night
exits 3; the nights the flapping check fails exit 1 (a spec not met, by
definition of the exit codes); every other night exits 0."""

from __future__ import annotations

import time

import numpy as np
import yaml

from lab.paths import results_dir
from lab.report.history import History, RunRecord
from lab.verify.result import CheckResult

from .cli_support import TINY, as_journal, assert_reads_in_a_journal, invoke

NIGHTS = 14
REGRESSION_NIGHT = 9  # 1-based run id
FLAP_FAILS = {4, 7, 12}
CAP = 500.0


def _night(rng: np.random.Generator, night: int) -> list[CheckResult]:
    level = 0.95 if night == REGRESSION_NIGHT else 1.0
    uncapped = [float(v) for v in rng.normal(5400 * level, 5400 * 0.005, 8)]
    capped = [float(v) for v in rng.normal(503, 2.5, 8)]
    rtt = [float(v) for v in rng.normal(0.25, 0.03, 7)]
    flaps = night in FLAP_FAILS
    return [
        CheckResult("storage.red-vm1/fast1.randread.control", "storage",
                    "red-vm1/fast1 (/dev/vdd) at least 2 x the standard cap",
                    f"{np.median(uncapped):.0f} IOPS steady, expected >= 2 x 500 (uncapped)", "pass",
                    metrics={"iops": uncapped}),
        CheckResult("storage.red-vm1/data1.randread", "storage", "red-vm1/data1 (/dev/vdb)",
                    f"{np.median(capped):.0f} IOPS steady, expected 500 +-3%", "pass",
                    metrics={"iops": capped, "iops_target": [CAP]}),
        CheckResult("fabric.tenant.red.mtu", "fabric", "1450-byte DF probes across VTEPs",
                    "7 of 7 answered", "pass", metrics={"rtt_ms": rtt}),
        CheckResult("lb.web.failover", "lb", "traffic leaves a failed backend within 3 s",
                    "4.8 s to move all flows" if flaps else "1.2 s to move all flows",
                    "fail" if flaps else "pass", metrics={"failover_s": [4.8 if flaps else 1.2]}),
    ]


def _fill(now: float) -> list[int]:
    rng = np.random.default_rng(15)
    ids = []
    with History.for_lab(results_dir("nx")) as history:
        for night in range(1, NIGHTS + 1):
            ids.append(history.record_run(RunRecord(
                lab="nx", started_at=now - 86400 * (NIGHTS - night), results=_night(rng, night),
                topology_hash="3f2a9c", duration_s=600.0,
                config={"kernel": "6.1.0-31" if night >= REGRESSION_NIGHT else "6.1.0-28",
                        "versions": {"stacklab": "0.4.0", "fio": "3.33"}})))
    return ids


def test_fourteen_nights_through_regress_run(home, tmp_path, monkeypatch):
    topo = tmp_path / "nx.yaml"
    topo.write_text(yaml.safe_dump(TINY | {"specs": {"iops_tolerance_pct": 3}}, sort_keys=False))
    ids = _fill(time.time())
    codes = {}
    for run_id in ids:
        as_journal(monkeypatch, 80)
        result = invoke("regress", topo, "--run", run_id)
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
        assert "Traceback" not in result.output
        as_journal(monkeypatch, 1000)
        wide = invoke("regress", topo, "--run", run_id).stdout
        assert_reads_in_a_journal(result.stdout, wide)
        codes[run_id] = result.exit_code
        if run_id == REGRESSION_NIGHT:
            assert "REGRESSION" in result.stdout and "kernel: 6.1.0-28 -> 6.1.0-31" in result.stdout
    expected = {n: 3 if n == REGRESSION_NIGHT else 1 if n in FLAP_FAILS else 0 for n in ids}
    assert codes == expected
    with History.for_lab(results_dir("nx")) as history:
        assert history.regress_runs("nx") == []  # looking back records nothing
