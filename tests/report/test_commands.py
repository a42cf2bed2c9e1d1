"""`lab report / history / exporter / dashboards` on a recorded history."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from typer.testing import CliRunner

from lab.cli import app
from lab.report.history import results_dir

from .conftest import make_history

runner = CliRunner()


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("STACKLAB_HOME", str(tmp_path))
    make_history(results_dir("demo"))
    return tmp_path


def test_history_lists_runs_and_pins_a_baseline(home):
    result = runner.invoke(app, ["history", "--lab", "demo", "--pin", "2", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["id"] for r in rows] == [1, 2, 3, 4, 5, 6]
    assert [r["id"] for r in rows if r["pinned"]] == [2]
    assert rows[-1]["failed"] == ["fabric.bridges.no_flooding"]
    table = runner.invoke(app, ["history", "--unpin"])  # the only lab with results
    assert table.exit_code == 0 and "pinned" not in table.stdout


def test_report_prints_where_the_report_is(home):
    result = runner.invoke(app, ["report", "--lab", "demo"])
    assert result.exit_code == 0, result.output
    assert (results_dir("demo") / "report" / "index.html").exists()
    assert "index.html" in result.stdout


def test_a_lab_that_is_not_here_exits_4_naming_the_labs_that_are(home):
    result = runner.invoke(app, ["history", "--lab", "nope"])
    assert result.exit_code == 4
    assert "no lab nope; labs here: demo" in result.output.replace("\n", " ")


def test_a_lab_here_without_history_exits_2(home):
    (home / "labs" / "fresh").mkdir(parents=True)
    result = runner.invoke(app, ["history", "--lab", "fresh"])
    assert result.exit_code == 2 and "no verify history" in result.output.replace("\n", " ")


@pytest.mark.parametrize("args,message", [
    (["history", "--pin", "999", "--lab", "demo"], "no run 999"),
    (["exporter", "--lab", "demo", "--port", "70000"], "out of range"),
    (["exporter", "--lab", "demo", "--address", "localhost:1"], "not an IP address"),
    (["report", "--results-dir", "/nonexistent"], "run `lab verify` first"),
    (["report", "--lab", "demo", "--flaky-runs", "1"], "--flaky-runs"),
    (["dashboards", "--report-url", "lab1:8088"], "must be a file:///, http:// or https:// URL"),
])
def test_bad_input_exits_2_with_a_message(home, args, message):
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert message in result.output.replace("\n", " ")


def test_dashboards_command_writes_json(tmp_path):
    result = runner.invoke(app, ["dashboards", "--out", str(tmp_path)])
    assert result.exit_code == 0
    assert sorted(p.name for p in tmp_path.glob("*.json")) == [
        "lab-overview.json", "load-balancer.json", "regression-history.json", "site-to-site-vpn.json",
        "storage-iops.json"]


def test_exporter_command_serves_metrics_on_loopback(home):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-c", "from lab.cli import app; app()", "exporter",
                             "--lab", "demo", "--port", str(port)],
                            env=os.environ | {"STACKLAB_HOME": str(home)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        text, deadline = "", time.monotonic() + 20
        while not text and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
                    text = r.read().decode()
            except OSError:
                time.sleep(0.2)
        assert 'stacklab_verify_runs_total{lab="demo"} 6.0' in text
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def test_report_takes_the_flaky_parameters_and_writes_run_pages(home):
    result = runner.invoke(app, ["report", "--lab", "demo", "--flaky-changes", "1", "--flaky-runs", "2"])
    assert result.exit_code == 0, result.output
    report = results_dir("demo") / "report"
    assert (report / "runs" / "6.html").exists()
    assert "changed in at least 1 of the last 2 runs" in " ".join((report / "index.html").read_text().split())


def test_dashboards_command_sets_the_report_url(tmp_path):
    result = runner.invoke(app, ["dashboards", "--out", str(tmp_path), "--report-url", "http://lab1:8088/"])
    assert result.exit_code == 0, result.output
    board = json.loads((tmp_path / "lab-overview.json").read_text())
    assert {v["name"]: v.get("query") for v in board["templating"]["list"]}["report_url"] == "http://lab1:8088"
