"""Acceptance: fourteen synthetic nights in the history store (noise, one real
5 % regression, one check that flaps) through `lab regress --run` in table
mode, at 80 columns without a terminal, with the topology's default
tolerances, then `lab report`.

No traceback; the regression night exits 3; the flapping check is marked
flaky in the HTML report. Exit statuses of the other nights, decided by the
exit-code definition (lab/exitcodes.py): a night on which the flapping check
failed exits 1, "a spec not met" -- the check did fail that night, and a
night cannot know it will pass again tomorrow; hiding it behind 0 would tell
the timer all was good. Flapping is the report's finding across nights (the
flaky marker), not one night's exit status. Every other night exits 0, the
night after the regression included (it improved against the regression
night, which met every spec and so became the baseline)."""

from __future__ import annotations

import re
import time
from html.parser import HTMLParser

import numpy as np
import yaml

from lab.paths import results_dir
from lab.report.history import History, RunRecord
from lab.verify.result import CheckResult

from .cli_support import TINY, as_journal, assert_reads_in_a_journal, invoke

NIGHTS = 14
REGRESSION_NIGHT = 9  # 1-based run id
FLAP_FAILS = {4, 7, 12}
FLAPPING = "lb.mux1.failover"
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
                    f"{np.median(capped):.0f} IOPS steady, expected 500 +-5%", "pass",
                    metrics={"iops": capped, "iops_target": [CAP]}),
        CheckResult("fabric.red.mtu", "fabric", "1450 B with DF from red-a to red-b",
                    "delivered", "pass", metrics={"rtt_ms": rtt}),
        CheckResult(FLAPPING, "lb", "traffic leaves a failed backend within 3 s",
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


class _MatrixRows(HTMLParser):
    """The report's "checks across runs" rows: data-check -> the name cell's text."""

    def __init__(self, text: str):
        super().__init__()
        self.rows: dict[str, str] = {}
        self._row: str | None = None
        self._cell: list[str] | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "tr" and "data-check" in attrs:
            self._row = attrs["data-check"]
        elif tag == "td" and self._row and attrs.get("class") == "name":
            self._cell = []

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag):
        if tag == "td" and self._cell is not None:
            self.rows[self._row] = " ".join("".join(self._cell).split())
            self._cell = self._row = None


def test_fourteen_nights_through_regress_run(home, tmp_path, monkeypatch):
    topo = tmp_path / "nx.yaml"
    topo.write_text(yaml.safe_dump(TINY, sort_keys=False))  # default specs: iops_tolerance_pct 5
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
            regressed = [ln for ln in result.stdout.splitlines() if ln.lstrip().startswith("REGRESSION")]
            assert len(regressed) == 1 and re.search(r"\(\+[45]\.\d%\)", regressed[0])
    expected = {n: 3 if n == REGRESSION_NIGHT else 1 if n in FLAP_FAILS else 0 for n in ids}
    assert codes == expected
    with History.for_lab(results_dir("nx")) as history:
        assert history.regress_runs("nx") == []  # looking back records nothing

    as_journal(monkeypatch, 80)
    report = invoke("report", topo)
    assert report.exit_code == 0, report.output
    index = results_dir("nx") / "report" / "index.html"
    rows = _MatrixRows(index.read_text()).rows
    assert set(rows) == {r.name for r in _night(np.random.default_rng(0), 1)}
    assert "flaky" in rows[FLAPPING], rows[FLAPPING]
    assert [name for name, text in rows.items() if "flaky" in text] == [FLAPPING]
    assert "fabric.fabric" not in index.read_text()
