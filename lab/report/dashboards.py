"""Grafana dashboards, generated from code (grafana-foundation-sdk) into dashboards/*.json.

Every query is built from the names in lab.report.metric_names, so a panel
can only ask for what the exporter or the LB/fabric collectors expose; the
tests run every panel's PromQL against a real Prometheus scraping the exporter.
Regenerate with `python -m lab.report.dashboards` (or `lab dashboards`).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders import bargauge, stat, statetimeline, table, timeseries
from grafana_foundation_sdk.builders.dashboard import Dashboard as DashboardBuilder
from grafana_foundation_sdk.builders.dashboard import (
    DatasourceVariable,
    QueryVariable,
    Row,
)
from grafana_foundation_sdk.builders.prometheus import Dataquery
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import (
    DashboardCursorSync,
    DataSourceRef,
    VariableRefresh,
    VariableSort,
)

from lab.report import metric_names as m

DASHBOARD_DIR = Path(__file__).resolve().parents[2] / "dashboards"
DATASOURCE = DataSourceRef(type_val="prometheus", uid="${datasource}")
RATE = "$__rate_interval"
LAB = 'lab=~"$lab"'


def _query(expr: str, legend: str = "", ref: str = "A", instant: bool = False) -> Dataquery:
    q = Dataquery().expr(expr).ref_id(ref).datasource(DATASOURCE)
    if legend:
        q = q.legend_format(legend)
    return q.instant() if instant else q.range()


def _panel(builder: Any, title: str, *queries: Dataquery, unit: str = "", w: int = 12,
           h: int = 8, description: str = "") -> Any:
    panel = builder.title(title).datasource(DATASOURCE).span(w).height(h)
    for q in queries:
        panel = panel.with_target(q)
    if unit:
        panel = panel.unit(unit)
    return panel.description(description) if description else panel


def _ts(title: str, *queries: Dataquery, **kw: Any) -> Any:
    return _panel(timeseries.Panel(), title, *queries, **kw)


def _stat(title: str, *queries: Dataquery, **kw: Any) -> Any:
    return _panel(stat.Panel(), title, *queries, w=kw.pop("w", 6), h=kw.pop("h", 4), **kw)


def _variable(name: str, label: str, metric: str, extra: str = "") -> QueryVariable:
    selector = f"{metric}{{{extra}}}" if extra else metric
    return (QueryVariable(name).label(label).datasource(DATASOURCE)
            .query({"query": f"label_values({selector}, {name})", "refId": f"{name}-var"})
            .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED).sort(VariableSort.ALPHABETICAL_ASC)
            .multi(True).include_all(True).all_value(".*"))


def _base(uid: str, title: str, description: str, tags: list[str]) -> DashboardBuilder:
    return (DashboardBuilder(title).uid(uid).description(description).tags(["stacklab", *tags])
            .editable().tooltip(DashboardCursorSync.CROSSHAIR).time("now-24h", "now")
            .refresh("30s").timezone("browser")
            .with_variable(DatasourceVariable("datasource").label("Prometheus").type("prometheus"))
            .with_variable(_variable("lab", "Lab", f"{m.VERIFY_RUNS}_total")))


def lab_overview() -> DashboardBuilder:
    failing = f'{m.CHECK_VERDICT}{{{LAB}, verdict=~"fail|error"}} == 1'
    rx = f"{m.FABRIC_RX_BYTES}_total"
    return (
        _base("stacklab-overview", "stacklab: lab overview",
              "Does the lab meet its specs right now? Latest verify run, history and fabric.", ["overview"])
        .with_row(Row("Latest verify run"))
        .with_panel(_stat("Last run passed", _query(f"{m.VERIFY_LAST_RUN_PASSED}{{{LAB}}}", "{{lab}}")))
        .with_panel(_stat("Pass ratio (all runs)", _query(f"{m.VERIFY_PASS_RATIO}{{{LAB}}}", "{{lab}}"),
                          unit="percentunit"))
        .with_panel(_stat("Since last run", _query(
            f"time() - {m.VERIFY_LAST_RUN_TIMESTAMP}{{{LAB}}}", "{{lab}}"), unit="s"))
        .with_panel(_stat("Last run duration", _query(
            f"{m.VERIFY_LAST_RUN_DURATION}{{{LAB}}}", "{{lab}}"), unit="s"))
        .with_panel(_panel(bargauge.Panel(), "Checks by verdict", _query(
            f"sum by (verdict) ({m.VERIFY_LAST_RUN_CHECKS}{{{LAB}}})", "{{verdict}}", instant=True)))
        .with_panel(_panel(table.Panel(), "Failing checks", _query(
            failing, "{{group}} / {{check}}", instant=True),
            description="Checks whose latest verdict is fail or error."))
        .with_row(Row("Fabric"))
        .with_panel(_ts("Underlay receive throughput per server", _query(
            f"8 * sum by (server) (rate({rx}{{{LAB}}}[{RATE}]))", "{{server}}"), unit="bps"))
        .with_panel(_ts("Dropped packets per server", _query(
            f"sum by (server, direction) (rate({m.FABRIC_DROPPED}_total{{{LAB}}}[{RATE}]))",
            "{{server}} {{direction}}"), unit="pps"))
        .with_panel(_panel(statetimeline.Panel(), "Fabric links up", _query(
            f"{m.FABRIC_LINK_UP}{{{LAB}}}", "{{server}}/{{interface}}")))
        .with_panel(_ts("Static VXLAN FDB entries", _query(
            f"sum by (server, vni) ({m.FABRIC_FDB_ENTRIES}{{{LAB}}})", "{{server}} VNI {{vni}}")))
        .with_panel(_panel(statetimeline.Panel(), "Live collectors up", _query(
            m.COLLECTOR_UP, "{{collector}}"), w=24))
    )


def load_balancer() -> DashboardBuilder:
    sel = f'{LAB}, lb=~"$lb"'
    pkts = f"rate({m.LB_PACKETS}_total{{{sel}}}[{RATE}])"
    return (
        _base("stacklab-lb", "stacklab: load balancer",
              "XDP MUX counters per VIP and backend (from the BPF maps) and the LB checks.", ["lb"])
        .with_variable(_variable("lb", "Load balancer", f"{m.LB_PACKETS}_total", LAB))
        .with_row(Row("Traffic"))
        .with_panel(_ts("Packets per backend", _query(
            f"sum by (lb, backend) ({pkts})", "{{lb}} → {{backend}}"), unit="pps"))
        .with_panel(_ts("Throughput per frontend", _query(
            f"8 * sum by (vip, port, protocol) (rate({m.LB_BYTES}_total{{{sel}}}[{RATE}]))",
            "{{vip}}:{{port}}/{{protocol}}"), unit="bps"))
        .with_panel(_ts("New connections (SYN) per backend", _query(
            f"sum by (lb, backend) (rate({m.LB_SYNS}_total{{{sel}}}[{RATE}]))", "{{backend}}"),
            unit="cps"))
        .with_panel(_ts("Share of packets per backend", _query(
            f"sum by (lb, backend) ({pkts}) / on (lb) group_left sum by (lb) ({pkts})",
            "{{lb}} → {{backend}}"), unit="percentunit",
            description="Maglev should spread flows evenly over healthy backends."))
        .with_row(Row("Health and drops"))
        .with_panel(_panel(statetimeline.Panel(), "Backend health (probe status)", _query(
            f"{m.LB_BACKEND_HEALTHY}{{{sel}}}", "{{lb}} {{backend}}")))
        .with_panel(_ts("Dropped packets by reason", _query(
            f"sum by (lb, reason) (rate({m.LB_DROPPED}_total{{{sel}}}[{RATE}]))", "{{lb}} {{reason}}"),
            unit="pps", description="no_rule: traffic to a VIP/port without a rule (secure by default)."))
        .with_row(Row("Verify"))
        .with_panel(_panel(table.Panel(), "LB checks (latest run)", _query(
            f'{m.CHECK_PASSED}{{{LAB}, group="lb"}}', "{{check}}", instant=True)))
        .with_panel(_panel(bargauge.Panel(), "Distribution check: flows per backend", _query(
            f'{m.CHECK_METRIC}{{{LAB}, group="lb", metric=~"backend_flows:.*"}}', "{{metric}}",
            instant=True)))
    )


def storage() -> DashboardBuilder:
    iops = f'{m.CHECK_METRIC}{{{LAB}, group="storage", metric="iops"}}'
    cap = f'{m.CHECK_METRIC}{{{LAB}, group="storage", metric="iops_target"}}'
    return (
        _base("stacklab-storage", "stacklab: storage IOPS vs caps",
              "fio on every capped data disk: measured IOPS against the tier's cap.", ["storage"])
        .with_panel(_panel(bargauge.Panel(), "Measured IOPS per disk", _query(
            iops, "{{check}}", instant=True), unit="iops"))
        .with_panel(_panel(bargauge.Panel(), "IOPS cap per disk", _query(
            cap, "{{check}}", instant=True), unit="iops"))
        .with_panel(_ts("Measured IOPS as % of cap", _query(
            f"{iops} / ignoring (metric) {cap}", "{{check}}"), unit="percentunit",
            description="1.0 = exactly the cap; the spec allows the iops tolerance either side."))
        .with_panel(_ts("IOPS and cap over time", _query(iops, "{{check}} measured"),
                        _query(cap, "{{check}} cap", ref="B"), unit="iops"))
        .with_panel(_panel(table.Panel(), "Storage checks (latest run)", _query(
            f'{m.CHECK_PASSED}{{{LAB}, group="storage"}}', "{{check}}", instant=True), w=24))
    )


def regression_history() -> DashboardBuilder:
    return (
        _base("stacklab-regress", "stacklab: regression history",
              "Nightly verify/regress outcomes over time and the metrics they compare.", ["regress"])
        .with_variable(_variable("metric", "Metric", m.CHECK_METRIC, LAB))
        .with_panel(_stat("Regressions in last comparison", _query(
            f"{m.REGRESS_LAST_REGRESSIONS}{{{LAB}}}", "{{lab}}")))
        .with_panel(_stat("Comparisons recorded", _query(f"{m.REGRESS_RUNS}_total{{{LAB}}}", "{{lab}}")))
        .with_panel(_stat("Since last comparison", _query(
            f"time() - {m.REGRESS_LAST_TIMESTAMP}{{{LAB}}}", "{{lab}}"), unit="s"))
        .with_panel(_stat("Verify runs (24 h)", _query(
            f"increase({m.VERIFY_RUNS}_total{{{LAB}}}[1d])", "{{lab}}")))
        .with_panel(_ts("Regressions per comparison", _query(
            f"{m.REGRESS_LAST_REGRESSIONS}{{{LAB}}}", "{{lab}}")))
        .with_panel(_panel(statetimeline.Panel(), "Verify passed", _query(
            f"{m.VERIFY_LAST_RUN_PASSED}{{{LAB}}}", "{{lab}}")))
        .with_panel(_ts("Check metrics over time (median of samples)", _query(
            f'{m.CHECK_METRIC}{{{LAB}, metric=~"$metric"}}', "{{check}} {{metric}}"), w=24))
        .with_panel(_ts("Check durations", _query(
            f"{m.CHECK_DURATION}{{{LAB}}}", "{{group}}/{{check}}"), unit="s", w=24))
    )


DASHBOARDS: dict[str, Callable[[], DashboardBuilder]] = {
    "lab-overview": lab_overview,
    "load-balancer": load_balancer,
    "storage-iops": storage,
    "regression-history": regression_history,
}


def render(name: str) -> dict[str, Any]:
    return json.loads(json.dumps(DASHBOARDS[name]().build(), cls=JSONEncoder))


def dashboard_json(name: str) -> str:
    return json.dumps(render(name), indent=2, sort_keys=True) + "\n"


def write_dashboards(out_dir: Path = DASHBOARD_DIR) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name in DASHBOARDS:
        path = out_dir / f"{name}.json"
        path.write_text(dashboard_json(name))
        written.append(path)
    return written


def panel_queries(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(panel title, PromQL) for every panel target, rows included."""
    def walk(panels: list[dict[str, Any]]) -> Iterator[tuple[str, str]]:
        for panel in panels:
            for target in panel.get("targets", []):
                if target.get("expr"):
                    yield panel.get("title", ""), target["expr"]
            yield from walk(panel.get("panels", []))
    yield from walk(dashboard.get("panels", []))


if __name__ == "__main__":  # pragma: no cover
    for path in write_dashboards(Path(sys.argv[1]) if len(sys.argv) > 1 else DASHBOARD_DIR):
        print(path)
