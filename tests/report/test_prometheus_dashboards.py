"""A real Prometheus (Debian package) scrapes the exporter; every panel query of
every generated dashboard, every annotation and every dashboard variable returns
data, and the shipped alert rules load and fire on the synthetic history."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from lab.report.dashboards import (
    DASHBOARD_DIR,
    DASHBOARDS,
    annotation_queries,
    dashboard_json,
    panel_queries,
    render,
)
from lab.report.exporter import build_registry, serve
from tests.report.tools import require_binary

WAIT_S = 30
# What Grafana would put in for the dashboard variables: the lab under test and
# "All" (allValue .*) for the others; a rate window covering a few 1 s scrapes.
SUBSTITUTIONS = {"$__rate_interval": "10s", "$lab": "demo", "$lb": ".*", "$metric": ".*", "$vpn": ".*"}


def _prometheus_binary() -> str:
    return require_binary("prometheus")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory, module_lab_dir, module_traffic):
    """Exporter on a loopback port, Prometheus scraping it every second."""
    tmp_path = tmp_path_factory.mktemp("prometheus")
    server, thread = serve(build_registry([module_lab_dir], live={"traffic": module_traffic},
                                          use_registered=False), "127.0.0.1", 0)
    port = _free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        f"rule_files: ['{DASHBOARD_DIR / 'alerts.yml'}']\n"
        "scrape_configs:\n"
        "  - job_name: stacklab\n"
        f"    static_configs: [{{targets: ['127.0.0.1:{server.server_port}']}}]\n")
    log = (tmp_path / "prometheus.log").open("w")
    proc = subprocess.Popen(
        [_prometheus_binary(), f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
        stdout=log, stderr=subprocess.STDOUT)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _substitute(expr: str) -> str:
    for var, value in SUBSTITUTIONS.items():
        expr = expr.replace(var, value)
    assert "$" not in expr, f"unsubstituted variable in {expr}"
    return expr


def _query(base: str, expr: str) -> list:
    url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        body = _get(url)
    except OSError:
        return []
    assert body.get("status") == "success", body
    return body["data"]["result"]


def _all_queries() -> list[tuple[str, str, str]]:
    return [(name, title, _substitute(expr)) for name in DASHBOARDS
            for title, expr in [*panel_queries(render(name)), *annotation_queries(render(name))]]


def _essence(dashboard: dict) -> tuple:
    """What must not drift: ids, panels, their queries, colours, table shaping and
    links, the variables and annotations (the SDK may add defaults in a new
    release; those are not a drift)."""
    panels = [(p.get("type"), p.get("title"), [(t.get("expr"), t.get("format")) for t in p.get("targets", [])],
               p.get("fieldConfig"), p.get("transformations"))
              for p in dashboard["panels"]]
    variables = [(v["name"], v.get("query")) for v in dashboard["templating"]["list"]]
    annotations = [(a["name"], a.get("expr")) for a in dashboard.get("annotations", {}).get("list", [])]
    links = [link.get("url") for link in dashboard.get("links") or []]
    return dashboard["uid"], dashboard["title"], panels, variables, annotations, links


def test_committed_dashboards_match_the_generator():
    for name in DASHBOARDS:
        path = DASHBOARD_DIR / f"{name}.json"
        committed = json.loads(path.read_text())
        assert _essence(committed) == _essence(json.loads(dashboard_json(name))), (
            f"regenerate {path}: lab dashboards")


def test_every_panel_query_returns_data_from_a_real_prometheus(prometheus):
    queries = _all_queries()
    assert len(queries) >= 30
    missing = queries
    deadline = time.monotonic() + WAIT_S
    while missing and time.monotonic() < deadline:
        time.sleep(1)
        missing = [q for q in missing if not _query(prometheus, q[2])]
    assert not _query(prometheus, "stacklab_no_such_metric")  # the probe can tell "no data"
    assert not missing, "panels without data:\n" + "\n".join(f"{d} / {t}: {e}" for d, t, e in missing)


def test_every_dashboard_variable_has_values(prometheus):
    deadline = time.monotonic() + WAIT_S
    while not _query(prometheus, "stacklab_verify_runs_total") and time.monotonic() < deadline:
        time.sleep(1)
    for name in DASHBOARDS:
        for var in render(name)["templating"]["list"]:
            if var["type"] != "query":
                continue
            selector, label = var["query"]["query"][len("label_values("):-1].rsplit(", ", 1)
            params = urllib.parse.urlencode({"match[]": _substitute(selector)})
            values = _get(f"{prometheus}/api/v1/label/{label}/values?{params}")["data"]
            assert values, f"{name}: variable {var['name']} has no values"


def test_dashboard_files_are_valid_grafana_json():
    for name in DASHBOARDS:
        data = json.loads(Path(DASHBOARD_DIR / f"{name}.json").read_text())
        assert data["uid"].startswith("stacklab-") and data["panels"]
        for panel in data["panels"]:
            if panel["type"] != "row":
                assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}


def _wait_for(probe, what: str):
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(1)
    pytest.fail(f"timed out after {WAIT_S} s waiting for {what}")


def test_shipped_alert_rules_load_with_health_ok(prometheus):
    def evaluated_rules():
        groups = _get(f"{prometheus}/api/v1/rules")["data"]["groups"]
        rules = [r for g in groups for r in g["rules"]]
        return rules if rules and all(r.get("lastEvaluation", "").startswith("2") for r in rules) else []

    rules = _wait_for(evaluated_rules, "the alert rules to be evaluated")
    assert {r["name"] for r in rules} >= {"StacklabNoVerifyRun", "StacklabVerifyFailed",
                                          "StacklabRegressionDetected",
                                          "StacklabCheckFailingNightsInARow"}
    assert all(r["type"] == "alerting" for r in rules)
    assert [(r["name"], r["health"], r.get("lastError")) for r in rules if r["health"] != "ok"] == []


def test_alerts_fire_on_what_the_exporter_reports(prometheus):
    """The last synthetic night failed a check (once): StacklabVerifyFailed fires for
    the lab, the failing-in-a-row alert does not, the lab is not silent, its VPN
    tunnels are up."""
    def firing():
        alerts = _get(f"{prometheus}/api/v1/alerts")["data"]["alerts"]
        return [a for a in alerts if a["state"] == "firing"]

    alerts = _wait_for(firing, "an alert to fire")
    names = {(a["labels"]["alertname"], a["labels"].get("lab")) for a in alerts}
    assert ("StacklabVerifyFailed", "demo") in names
    assert not {n for n, _ in names} & {"StacklabCheckFailingNightsInARow", "StacklabNoVerifyRun",
                                         "StacklabNoVerifyRunExported", "StacklabVpnTunnelDown"}
