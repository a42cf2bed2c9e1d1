"""The committed dashboards say bad things in red, their tables are tables, runs
are annotated and the HTML report is one click away. Read from dashboards/*.json
as Grafana would (value mappings first, then thresholds), so each test fails when
the property is taken out of the generator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from lab.report import grafana as g
from lab.report import metric_names as m
from lab.report.dashboards import DASHBOARD_DIR, DASHBOARDS, render
from lab.report.html import run_page

GOOD_WHEN_ONE = (m.VERIFY_LAST_RUN_PASSED, m.CHECK_PASSED, m.FABRIC_LINK_UP, m.LB_BACKEND_HEALTHY,
                 m.COLLECTOR_UP, m.LB_BGP_SESSION_UP, m.LB_BGP_BFD_UP, m.VPN_TUNNEL_UP, m.VPN_INSTANCE_UP)
DAY_AND_2H = 26 * 3600


def _dashboards() -> Iterator[tuple[str, dict[str, Any]]]:
    for name in DASHBOARDS:
        yield name, json.loads((DASHBOARD_DIR / f"{name}.json").read_text())


def _panels() -> Iterator[tuple[str, dict[str, Any]]]:
    for name, board in _dashboards():
        for panel in board["panels"]:
            if panel["type"] != "row":
                yield name, panel


def _column(panel: dict[str, Any], ref: str) -> str | None:
    """The column a target's value lands in after the table's organize step."""
    if panel["type"] != "table":
        return None
    value = f"Value #{ref}" if len(panel["targets"]) > 1 else "Value"
    organize = next(t["options"] for t in panel["transformations"] if t["id"] == "organize")
    return organize["renameByName"].get(value, value)


def _config(panel: dict[str, Any], column: str | None) -> dict[str, Any]:
    config = dict(panel["fieldConfig"]["defaults"])
    for override in panel["fieldConfig"]["overrides"]:
        if override["matcher"] == {"id": "byName", "options": column}:
            config |= {p["id"]: p.get("value") for p in override["properties"]}
    return config


def color(panel: dict[str, Any], value: float | str, column: str | None = None) -> str | None:
    """The colour Grafana gives `value`: a matching value mapping, else the
    threshold step it reaches (only when the colour mode is thresholds)."""
    config = _config(panel, column)
    for mapping in config.get("mappings") or []:
        hit = mapping["type"] == "value" and mapping["options"].get(str(value))
        if hit and hit.get("color"):
            return hit["color"]
    if (config.get("color") or {}).get("mode") != "thresholds" or isinstance(value, str):
        return None
    reached = None
    for step in (config.get("thresholds") or {}).get("steps", []):
        if step["value"] is None or value >= step["value"]:
            reached = step["color"]
    return reached


def _targets(metric: str) -> Iterator[tuple[str, dict[str, Any], str | None, str]]:
    for name, panel in _panels():
        for target in panel["targets"]:
            if metric in target["expr"]:
                yield name, panel, _column(panel, target["refId"]), target["expr"]


@pytest.mark.parametrize("metric", GOOD_WHEN_ONE)
def test_zero_of_a_good_when_one_gauge_is_red_and_one_green(metric):
    seen = list(_targets(metric))
    assert seen, f"no panel shows {metric}"
    for name, panel, column, _ in seen:
        where = f"{name} / {panel['title']}"
        assert color(panel, 0, column) == g.BAD, f"{where}: {metric} = 0 is not red"
        assert color(panel, 1, column) == g.GOOD, f"{where}: {metric} = 1 is not green"


def test_a_regression_is_red_and_none_is_green():
    seen = list(_targets(m.REGRESS_LAST_REGRESSIONS))
    assert {p["title"] for _, p, _, _ in seen} == {"Regressions in last comparison",
                                                   "Regressions per comparison"}
    for _, panel, column, _ in seen:
        assert color(panel, 0, column) == g.GOOD and color(panel, 1, column) == g.BAD
        assert color(panel, 7, column) == g.BAD


def test_no_run_for_26_hours_is_red():
    ages = [(p, c) for timestamp in (m.VERIFY_LAST_RUN_TIMESTAMP, m.REGRESS_LAST_TIMESTAMP)
            for _, p, c, expr in _targets(timestamp) if expr.startswith("time() - ")]
    assert {p["title"] for p, _ in ages} == {"Since last run", "Since last comparison"}
    for panel, column in ages:
        assert color(panel, 3600, column) == g.GOOD
        assert color(panel, DAY_AND_2H + 60, column) == g.BAD


def test_a_stale_wireguard_handshake_is_red():
    (_, panel, column, expr), = _targets(m.VPN_LAST_HANDSHAKE)
    assert expr.startswith("time() - ")
    assert color(panel, 115, column) == g.GOOD and color(panel, 181, column) == g.BAD


def test_a_vpn_pair_served_by_its_standby_is_orange_and_a_standby_standing_by_is_not_red():
    panels = {p["title"]: p for _, p, _, _ in _targets(m.VPN_INSTANCE_SERVING)}
    now, over_time = panels["Serving instance now"], panels["Serving instance over time"]
    assert (color(now, 1), color(now, 2)) == (g.GOOD, g.WARN)
    assert g.BAD not in (color(over_time, 0), color(over_time, 1))


def test_failing_checks_table_paints_fail_red_and_long_streaks_red():
    (_, panel, _, _), = [t for t in _targets(m.CHECK_VERDICT) if t[1]["title"] == "Failing checks"]
    assert color(panel, "fail", "verdict") == g.BAD
    assert color(panel, "error", "verdict") not in (None, g.GOOD)
    (_, streak, column, _), = _targets(m.CHECK_CONSECUTIVE_FAILURES)
    assert streak["title"] == panel["title"] and column == "runs failing in a row"
    assert color(panel, 1, column) not in (None, g.GOOD) and color(panel, 3, column) == g.BAD


def test_fail_bar_of_checks_by_verdict_is_red():
    (_, panel, _, _), = _targets(m.VERIFY_LAST_RUN_CHECKS)
    assert _config(panel, "fail")["color"] == {"mode": "fixed", "fixedColor": g.BAD}
    assert _config(panel, "pass")["color"] == {"mode": "fixed", "fixedColor": g.GOOD}


def test_table_panels_are_tables_of_instant_queries_merged_and_organized():
    tables = [(name, p) for name, p in _panels() if p["type"] == "table"]
    assert len(tables) == 3
    for name, panel in tables:
        where = f"{name} / {panel['title']}"
        assert all(t.get("format") == "table" and t.get("instant") for t in panel["targets"]), where
        ids = [t["id"] for t in panel["transformations"]]
        assert ids[-1] == "organize", where
        assert len(panel["targets"]) > 1 and ids[0] == "merge", f"{where}: one query is not a table"
        organize = panel["transformations"][-1]["options"]
        assert organize["excludeByName"].get("Time") and organize["excludeByName"].get("__name__")
        for target in panel["targets"]:
            value = f"Value #{target['refId']}"
            assert value in organize["renameByName"] or organize["excludeByName"].get(value), (
                f"{where}: column {value} is neither named nor hidden")


def test_every_dashboard_annotates_runs_and_failed_runs_from_prometheus():
    for name, board in _dashboards():
        annotations = {a["name"]: a for a in board["annotations"]["list"]}
        runs, failed = annotations.get("Verify runs"), annotations.get("Failed verify runs")
        assert runs and failed, f"{name}: no run annotations"
        for annotation in (runs, failed):
            assert annotation["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
            assert annotation["enable"] and annotation["useValueForTime"]
            assert annotation["expr"].startswith(f"{m.VERIFY_LAST_RUN_TIMESTAMP}{{") \
                and annotation["expr"].split("}")[1].startswith(" * 1000"), name
        assert failed["iconColor"] == g.BAD and f"{m.VERIFY_LAST_RUN_PASSED}" in failed["expr"] \
            and failed["expr"].endswith("== 0)")


def test_every_dashboard_links_to_the_html_report_under_a_configurable_base():
    for name, board in _dashboards():
        variables = {v["name"]: v for v in board["templating"]["list"]}
        assert variables["report_url"]["type"] == "textbox"
        assert variables["report_url"]["query"] == g.DEFAULT_REPORT_URL
        urls = [link["url"] for link in board["links"] if link["type"] == "link"]
        assert "${report_url}/${lab}/report/index.html" in urls, name
        assert render(name, "http://lab1.example:8088")["templating"]["list"][2]["query"] \
            == "http://lab1.example:8088"


def test_last_run_and_check_rows_link_to_their_report_pages():
    (_, last_run, _, _), = _targets(m.VERIFY_LAST_RUN_ID)
    links = [link["url"] for link in last_run["fieldConfig"]["defaults"]["links"]]
    page = run_page(42).replace("42", "${__value.raw}")
    assert links == [f"${{report_url}}/${{__field.labels.lab}}/report/{page}"]
    for name, panel in _panels():
        if panel["type"] == "table":
            links = _config(panel, "check").get("links") or []
            assert [lk["url"] for lk in links] == [
                "${report_url}/${__data.fields.lab}/report/index.html#checks"], name
