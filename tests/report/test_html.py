"""lab.report.html: a self-contained report directory with readable plots."""

from __future__ import annotations

import re

from lab.report.history import History, RunRecord
from lab.report.html import render_report
from lab.verify.result import CheckResult

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_report_has_every_plot_and_the_failing_check(lab_dir, tmp_path):
    index = render_report(lab_dir, tmp_path / "out")
    html = index.read_text()
    images = re.findall(r'<img src="([^"]+)"', html)
    assert set(images) == {"pass_fail_history.png", "iops_vs_cap.png", "iops_over_time.png",
                           "lb_distribution.png", "metric_trends.png"}
    for name in images:
        data = (index.parent / name).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 5000
    assert "FAILED" in html and "no unknown-unicast flooding" in html
    assert "Newly failing: no unknown-unicast flooding" in html
    assert "last good baseline" in html


def test_report_escapes_check_text_and_works_without_plots(tmp_path):
    with History.for_lab(tmp_path) as history:
        history.record_run(RunRecord("x", 0.0, [CheckResult("<script>", "g", "t", "m", "pass")]))
    html = render_report(tmp_path).read_text()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "PASSED" in html
    assert re.findall(r'<img src="([^"]+)"', html) == ["pass_fail_history.png"]


def test_report_of_an_empty_history_says_so(tmp_path):
    html = render_report(tmp_path, lab="nothing").read_text()
    assert "Run history" in html and "PASSED" not in html
