"""lab.report.html: a self-contained report directory with readable plots."""

from __future__ import annotations

import re
import statistics
from html.parser import HTMLParser
from pathlib import Path

import pytest

from lab.report.history import History, RunRecord
from lab.report.html import render_report, run_page
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
    assert "FAILED" in html and "fabric.bridges.no_flooding" in html
    assert "Newly failing: fabric.bridges.no_flooding" in html
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


class _Tables(HTMLParser):
    """Every <table> of a page: its attributes and rows (each row: attrs, cell texts, hrefs)."""

    def __init__(self, text: str):
        super().__init__()
        self.tables: list[tuple[dict, list[tuple[dict, list[str], list[str]]]]] = []
        self._cell: list[str] | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self.tables.append((attrs, []))
        elif tag == "tr" and self.tables:
            self.tables[-1][1].append((attrs, [], []))
        elif tag in ("td", "th") and self.tables:
            self._cell = []
        elif tag == "a" and self.tables and self.tables[-1][1]:
            self.tables[-1][1][-1][2].append(attrs["href"])

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][1][-1][1].append("".join(self._cell).strip())
            self._cell = None

    def plotted(self, image: str) -> dict[tuple[str, str], float]:
        (_, rows), = [t for t in self.tables if t[0].get("data-plot") == image]
        xs = rows[0][1][1:]
        return {(cells[0], x): float(v) for _, cells, _ in rows[1:]
                for x, v in zip(xs, cells[1:], strict=True) if v}


def test_index_leads_with_the_verdict_and_failing_checks_then_trends(lab_dir):
    html = render_report(lab_dir).read_text()
    order = ["FAILED", "<h2>Failing checks</h2>", "<h2>Trends</h2>", 'id="checks"', "<h2>Run history</h2>"]
    positions = [html.index(marker) for marker in order]
    assert positions == sorted(positions)
    failing = html[positions[1]:positions[2]]
    assert "fabric.bridges.no_flooding" in failing and "fabric.red.mtu" not in failing


def test_every_run_has_a_page_linked_from_the_index(lab_dir):
    index = render_report(lab_dir)
    links = {href for _, rows in _Tables(index.read_text()).tables for _, _, hrefs in rows for href in hrefs}
    with History.for_lab(lab_dir) as history:
        runs = history.runs("demo")
    for run in runs:
        page = index.parent / run_page(run.id)
        assert run_page(run.id) in links and page.exists()
        text = page.read_text()
        assert ("PASSED" if run.passed else "FAILED") in text and 'href="../index.html"' in text
    last = (index.parent / run_page(runs[-1].id)).read_text()
    assert last.index("<h2>Failing checks</h2>") < last.index("<h2>All checks</h2>")
    assert "Newly failing: fabric.bridges.no_flooding" in last


def _flapping_history(directory: Path, nights: int = 10) -> None:
    with History.for_lab(directory) as history:
        for night in range(nights):
            flap = "fail" if night % 3 == 1 else "pass"
            history.record_run(RunRecord("demo", 1000.0 * night, [
                CheckResult("lb.mux1.failover", "lb", "<= 15 s", "6 s", flap),
                CheckResult("fabric.red.mtu", "fabric", "1500", "1500", "pass"),
                CheckResult("storage.red-vm1/data1.randread", "storage", "500 IOPS", "31 IOPS",
                            "fail" if night >= nights - 3 else "pass")]))


def _matrix(html: str) -> dict[str, str]:
    (_, rows), = [t for t in _Tables(html).tables if t[0].get("class") == "matrix"]
    return {attrs["data-check"]: cells[0] for attrs, cells, _ in rows[1:]}


def test_a_flapping_check_is_marked_flaky_and_stable_ones_are_not(tmp_path):
    _flapping_history(tmp_path)
    rows = _matrix(render_report(tmp_path).read_text())
    assert "flaky" in rows["lb.mux1.failover"]
    assert "flaky" not in rows["fabric.red.mtu"]
    broken = rows["storage.red-vm1/data1.randread"]
    assert "flaky" not in broken and "failing 3 runs in a row" in broken
    assert list(rows)[0] == "storage.red-vm1/data1.randread"  # failing first, then flaky, then the rest
    strict = _matrix(render_report(tmp_path, flaky_changes=7, flaky_runs=10).read_text())
    assert "flaky" not in strict["lb.mux1.failover"]


def test_evidence_paths_are_links_that_reach_the_files(tmp_path):
    kept = tmp_path / "verify" / "20250101T000000Z" / "evidence" / "flood.pcap"
    kept.parent.mkdir(parents=True)
    kept.write_bytes(b"\xd4\xc3\xb2\xa1")
    outside = tmp_path.parent / "elsewhere.json"
    outside.write_text("{}")
    with History.for_lab(tmp_path) as history:
        history.record_run(RunRecord("demo", 0.0, [
            CheckResult("flood", "fabric", "0 frames", "14 frames", "fail", f"capture: {kept}"),
            CheckResult("fio", "storage", "500 IOPS", "480", "fail", f"{outside}, /gone/fio.json")]))
    index = render_report(tmp_path)
    for page in (index, index.parent / run_page(1)):
        html = page.read_text()
        hrefs = [h for _, rows in _Tables(html).tables for _, _, hs in rows for h in hs if "runs/" not in h]
        assert (page.parent / next(h for h in hrefs if h.endswith("flood.pcap"))).resolve() == kept
        assert outside.as_uri() in hrefs
        assert "/gone/fio.json (missing)" in html and "file:///gone" not in html


def test_the_run_config_is_a_table_not_json(lab_dir):
    index = render_report(lab_dir)
    for page in (index, index.parent / run_page(6)):
        (_, rows), = [t for t in _Tables(page.read_text()).tables if t[0].get("class") == "config"]
        cells = {c[0]: c[1] for _, c, _ in rows[1:]}
        assert cells["kernel"] == "6.1.0-31" and cells["versions.fio"] == "3.33"
        assert '{"fio"' not in page.read_text()


def test_plotted_values_equal_the_values_in_the_tables(lab_dir):
    """What the plots draw (read back from the figures) is what the tables print,
    and both are the medians of the stored samples, computed here on their own."""
    tables = _Tables(render_report(lab_dir).read_text())
    with History.for_lab(lab_dir) as history:
        runs = history.runs("demo")
    iops = {(r.name.removeprefix("storage."), f"#{run.id}"): statistics.median(r.metrics["iops"])
            for run in runs for r in run.results if "iops" in r.metrics}
    drawn = tables.plotted("iops_over_time.png")
    assert {k: v for k, v in drawn.items() if not k[0].endswith(" cap")} == pytest.approx(iops, rel=1e-5)
    assert {v for k, v in drawn.items() if k[0].endswith(" cap")} == {500.0}
    trends = {(f"{r.name}: failover_s", f"#{run.id}"): statistics.median(r.metrics["failover_s"])
              for run in runs for r in run.results if "failover_s" in r.metrics}
    assert tables.plotted("metric_trends.png") == pytest.approx(trends, rel=1e-5)
    verdicts = {(v, f"#{run.id}"): float(sum(r.verdict == v for r in run.results))
                for run in runs for v in ("pass", "skipped", "fail")}
    assert tables.plotted("pass_fail_history.png") == verdicts
    latest = {r.name.removeprefix("storage."): statistics.median(r.metrics["iops"])
              for r in runs[-1].results if "iops" in r.metrics}
    bars = tables.plotted("iops_vs_cap.png")
    assert {x: v for (s, x), v in bars.items() if s == "measured IOPS (median)"} == pytest.approx(
        latest, rel=1e-5)


def test_only_absolute_paths_in_evidence_are_links():
    """Evidence such as the MTU check's "ICMP 0/0 from ..." has slashes that
    are not paths: the report must not show "/0 (missing)"."""
    from lab.report.html.model import evidence_pieces

    pieces = evidence_pieces("ICMP 0/0 from 100.64.1.11 via red-vm1/data2; pcap /tmp/nite/x.pcap, "
                             "see http://lab1:8088/report", Path("/tmp"), Path("/tmp"))
    assert [p.text for p in pieces if p.href] == ["/tmp/nite/x.pcap"]
    assert "".join(p.text for p in pieces).startswith("ICMP 0/0 from 100.64.1.11 via red-vm1/data2; pcap ")
