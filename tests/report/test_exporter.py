"""lab.report.exporter: exposition passes promtool, shows the latest results,
and live collectors plug in (a broken one does not break the scrape)."""

from __future__ import annotations

import subprocess
import urllib.request

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from lab import features
from lab.report.exporter import build_registry, serve
from tests.report.tools import require_binary

LAB = "demo"


def _need(binary: str) -> str:
    return require_binary(binary)


def _samples(text: str) -> dict[tuple[str, tuple], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_exposition_passes_promtool_check_metrics(lab_dir, traffic):
    promtool = _need("promtool")
    text = generate_latest(build_registry([lab_dir], live={"traffic": traffic},
                                          use_registered=False)).decode()
    result = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, check=False,
                            text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "stacklab_lb_packets_total" in text and "stacklab_check_verdict" in text


def test_latest_run_and_history_summary_are_exported(lab_dir):
    text = generate_latest(build_registry([lab_dir], use_registered=False)).decode()
    s = _samples(text)
    flood = (("check", "fabric.bridges.no_flooding"), ("group", "fabric"), ("lab", LAB))
    assert s[("stacklab_check_verdict", tuple(sorted((*flood, ("verdict", "fail")))))] == 1
    assert s[("stacklab_check_passed", flood)] == 0
    assert s[("stacklab_verify_runs_total", (("lab", LAB),))] == 6
    assert s[("stacklab_verify_pass_ratio", (("lab", LAB),))] == pytest.approx(5 / 6)
    assert s[("stacklab_verify_last_run_passed", (("lab", LAB),))] == 0
    assert s[("stacklab_regress_runs_total", (("lab", LAB),))] == 5
    cap = (("check", "storage.red-web1/data1.randread"), ("group", "storage"), ("lab", LAB), ("metric", "iops_target"))
    assert s[("stacklab_check_metric", cap)] == 500


def test_broken_live_collector_reports_down_and_others_still_export(lab_dir, traffic):
    class Broken:
        def collect(self):
            raise OSError("BPF map /sys/fs/bpf/lb is gone")

    text = generate_latest(build_registry(
        [lab_dir], live={"lb": Broken(), "fabric": traffic}, use_registered=False)).decode()
    s = _samples(text)
    assert s[("stacklab_collector_up", (("collector", "lb"),))] == 0
    assert s[("stacklab_collector_up", (("collector", "fabric"),))] == 1
    assert s[("stacklab_verify_runs_total", (("lab", LAB),))] == 6


def test_registered_factory_is_built_for_the_lab_and_served_over_http(lab_dir, traffic,
                                                                    monkeypatch):
    seen = []

    def factory(directory, lab):
        seen.append((directory, lab))
        return traffic

    monkeypatch.setattr(features, "collector_factories", lambda: {"lb": factory})
    server, thread = serve(build_registry([lab_dir]), "127.0.0.1", 0)
    try:
        url = f"http://127.0.0.1:{server.server_port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            text = response.read().decode()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    assert seen == [(lab_dir, lab_dir.name)]
    assert 'stacklab_lb_backend_healthy{backend="red-web1",lab="demo",lb="web"} 1.0' in text


def test_consecutive_failures_per_check_come_from_the_history(tmp_path):
    """fabric.mtu fails the last three runs (after a pass), lb.flap alternates,
    a check missing from an older run ends its streak there."""
    from lab.report.history import History, RunRecord
    from lab.verify.result import CheckResult

    nights = [("pass", "fail", None), ("fail", "pass", "fail"), ("fail", "fail", "fail"),
              ("error", "pass", "fail")]
    with History.for_lab(tmp_path) as history:
        for i, (mtu, flap, new) in enumerate(nights):
            results = [CheckResult("mtu", "fabric", "t", "m", mtu), CheckResult("flap", "lb", "t", "m", flap)]
            if new:
                results.append(CheckResult("new", "storage", "t", "m", new))
            history.record_run(RunRecord(LAB, float(i), results))
    s = _samples(generate_latest(build_registry([tmp_path], use_registered=False)).decode())
    streak = "stacklab_check_consecutive_failures"
    assert s[(streak, (("check", "mtu"), ("group", "fabric"), ("lab", LAB)))] == 3
    assert s[(streak, (("check", "flap"), ("group", "lb"), ("lab", LAB)))] == 0
    assert s[(streak, (("check", "new"), ("group", "storage"), ("lab", LAB)))] == 3
    assert s[("stacklab_verify_last_run_id", (("lab", LAB),))] == 4
