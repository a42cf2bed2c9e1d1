"""Grafana dashboards, generated from code (grafana-foundation-sdk) into dashboards/*.json.

Every query is built from the names in lab.report.metric_names, so a panel
can only ask for what the exporter or the LB/fabric collectors expose; the
tests run every panel's and annotation's PromQL against a real Prometheus
scraping the exporter, and check that bad values are red (lab.report.grafana
holds the colours, tables, annotations and report links).
Regenerate with `python -m lab.report.dashboards` (or `lab dashboards
[--report-url URL]`); dashboards/alerts.yml beside them is written by hand.
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
from grafana_foundation_sdk.models.common import BigValueColorMode, BigValueTextMode, ReduceDataOptions
from grafana_foundation_sdk.models.dashboard import (
    DashboardCursorSync,
    DataSourceRef,
    VariableRefresh,
    VariableSort,
)

from lab.report import grafana as g
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
    """The latest value, on a background coloured by the panel's thresholds."""
    latest = g.Built(ReduceDataOptions(calcs=["lastNotNull"]))
    return _panel(stat.Panel().color_mode(BigValueColorMode.BACKGROUND).reduce_options(latest),
                  title, *queries, w=kw.pop("w", 6), h=kw.pop("h", 4), **kw)


def _table(title: str, columns: dict[str, tuple[str, str]], order: list[str], w: int = 12,
           h: int = 8, description: str = "") -> Any:
    """A real table: `columns` maps refId -> (PromQL, value column name, "" to hide
    it); one row per check (labels in `order` first), linking to the HTML report."""
    panel = _panel(table.Panel(), title, *(g.table_query(expr, ref, DATASOURCE)
                                          for ref, (expr, _) in columns.items()),
                   w=w, h=h, description=description)
    panel = panel.transformations(g.table_transformations(
        {ref: name for ref, (_, name) in columns.items()}, order))
    return g.column_override(panel, "check", ("links", [g.report_link(
        "HTML report of ${__data.fields.lab}", "${__data.fields.lab}/report/index.html#checks")]))


def _passed_column(panel: Any, column: str) -> Any:
    return g.column_override(panel, column, *g.colored_cells(
        g.one_zero("pass", "FAIL"), g.steps(g.BAD, (1, g.GOOD))))


def _variable(name: str, label: str, metric: str, extra: str = "") -> QueryVariable:
    selector = f"{metric}{{{extra}}}" if extra else metric
    return (QueryVariable(name).label(label).datasource(DATASOURCE)
            .query({"query": f"label_values({selector}, {name})", "refId": f"{name}-var"})
            .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED).sort(VariableSort.ALPHABETICAL_ASC)
            .multi(True).include_all(True).all_value(".*"))


def _base(uid: str, title: str, description: str, tags: list[str],
          report_url: str) -> DashboardBuilder:
    board = (DashboardBuilder(title).uid(uid).description(description).tags(["stacklab", *tags])
             .editable().tooltip(DashboardCursorSync.CROSSHAIR).time("now-24h", "now")
             .refresh("30s").timezone("browser")
             .with_variable(DatasourceVariable("datasource").label("Prometheus").type("prometheus"))
             .with_variable(_variable("lab", "Lab", f"{m.VERIFY_RUNS}_total"))
             .with_variable(g.report_variable(report_url))
             .link(g.report_dashboard_link()))
    for annotation in g.run_annotations(m.VERIFY_LAST_RUN_TIMESTAMP, m.VERIFY_LAST_RUN_PASSED,
                                        m.REGRESS_LAST_TIMESTAMP, LAB, DATASOURCE):
        board = board.annotation(annotation)
    return board


def lab_overview(report_url: str = g.DEFAULT_REPORT_URL) -> DashboardBuilder:
    failing = f'{m.CHECK_VERDICT}{{{LAB}, verdict=~"fail|error"}} == 1'
    rx = f"{m.FABRIC_RX_BYTES}_total"
    failing_table = _table("Failing checks", {
        "A": (failing, ""),
        "B": (f"{m.CHECK_CONSECUTIVE_FAILURES}{{{LAB}}} > 0", "runs failing in a row")},
        ["lab", "group", "check", "verdict"],
        description="Checks whose latest verdict is fail or error, and for how many runs.")
    failing_table = g.column_override(failing_table, "verdict", *g.colored_cells(g.verdict_colors()))
    failing_table = g.column_override(failing_table, "runs failing in a row", *g.colored_cells(
        thresholds=g.steps(g.GOOD, (1, g.WARN), (3, g.BAD))))
    last_run = g.with_data_links(_stat("Last run", _query(
        f"{m.VERIFY_LAST_RUN_ID}{{{LAB}}}", "{{lab}}"), w=4).decimals(0)
        .color_mode(BigValueColorMode.NONE),
        g.report_link("This run in the HTML report",
                      "${__field.labels.lab}/report/runs/${__value.raw}.html"))
    return (
        _base("stacklab-overview", "stacklab: lab overview",
              "Does the lab meet its specs right now? Latest verify run, history and fabric.", ["overview"],
              report_url)
        .with_row(Row("Latest verify run"))
        .with_panel(g.ok_when_one(_stat("Last run passed", _query(
            f"{m.VERIFY_LAST_RUN_PASSED}{{{LAB}}}", "{{lab}}"), w=5), "PASSED", "FAILED"))
        .with_panel(last_run)
        .with_panel(g.color_steps(_stat("Pass ratio (all runs)", _query(
            f"{m.VERIFY_PASS_RATIO}{{{LAB}}}", "{{lab}}"), unit="percentunit", w=5),
            g.BAD, (0.8, g.WARN), (0.95, g.GOOD)))
        .with_panel(g.bad_from(_stat("Since last run", _query(
            f"time() - {m.VERIFY_LAST_RUN_TIMESTAMP}{{{LAB}}}", "{{lab}}"), unit="s", w=5),
            g.NO_RUN_FOR_S))
        .with_panel(_stat("Last run duration", _query(
            f"{m.VERIFY_LAST_RUN_DURATION}{{{LAB}}}", "{{lab}}"), unit="s", w=5)
            .color_mode(BigValueColorMode.NONE))
        .with_panel(_verdict_bars(_panel(bargauge.Panel(), "Checks by verdict", _query(
            f"sum by (verdict) ({m.VERIFY_LAST_RUN_CHECKS}{{{LAB}}})", "{{verdict}}", instant=True))))
        .with_panel(failing_table)
        .with_row(Row("Fabric"))
        .with_panel(_ts("Underlay receive throughput per server", _query(
            f"8 * sum by (server) (rate({rx}{{{LAB}}}[{RATE}]))", "{{server}}"), unit="bps"))
        .with_panel(_ts("Dropped packets per server", _query(
            f"sum by (server, direction) (rate({m.FABRIC_DROPPED}_total{{{LAB}}}[{RATE}]))",
            "{{server}} {{direction}}"), unit="pps"))
        .with_panel(g.ok_when_one(_panel(statetimeline.Panel(), "Fabric links up", _query(
            f"{m.FABRIC_LINK_UP}{{{LAB}}}", "{{server}}/{{interface}}")), "up", "down"))
        .with_panel(_ts("Static VXLAN FDB entries", _query(
            f"sum by (server, vni) ({m.FABRIC_FDB_ENTRIES}{{{LAB}}})", "{{server}} VNI {{vni}}")))
        .with_panel(g.ok_when_one(_panel(statetimeline.Panel(), "Live collectors up", _query(
            m.COLLECTOR_UP, "{{collector}}"), w=24), "up", "down"))
    )


def _verdict_bars(panel: Any) -> Any:
    """Each verdict in its colour: the fail bar is red whatever its length."""
    for verdict, color in g.VERDICT_COLORS.items():
        panel = g.column_override(panel, verdict, ("color", {"mode": "fixed", "fixedColor": color}))
    return panel


def load_balancer(report_url: str = g.DEFAULT_REPORT_URL) -> DashboardBuilder:
    sel = f'{LAB}, lb=~"$lb"'
    pkts = f"rate({m.LB_PACKETS}_total{{{sel}}}[{RATE}])"
    return (
        _base("stacklab-lb", "stacklab: load balancer",
              "XDP MUX counters per VIP and backend (from the BPF maps) and the LB checks.", ["lb"],
              report_url)
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
        .with_panel(g.ok_when_one(_panel(statetimeline.Panel(), "Backend health (probe status)", _query(
            f"{m.LB_BACKEND_HEALTHY}{{{sel}}}", "{{lb}} {{backend}}")), "healthy", "down"))
        .with_panel(_ts("Dropped packets by reason", _query(
            f"sum by (lb, reason) (rate({m.LB_DROPPED}_total{{{sel}}}[{RATE}]))", "{{lb}} {{reason}}"),
            unit="pps", description="no_rule: traffic to a VIP/port without a rule (secure by default)."))
        .with_row(Row("MUX pool: BGP to the ToR"))
        .with_panel(g.ok_when_one(_panel(statetimeline.Panel(), "BGP session per MUX", _query(
            f"{m.LB_BGP_SESSION_UP}{{{LAB}}}", "{{mux}}")), "Established", "down"))
        .with_panel(g.ok_when_one(_panel(statetimeline.Panel(), "BFD per MUX", _query(
            f"{m.LB_BGP_BFD_UP}{{{LAB}}}", "{{mux}}")), "up", "down"))
        .with_panel(_ts("VIPs announced and accepted per MUX", _query(
            f"{m.LB_BGP_ADVERTISED}{{{LAB}}}", "{{mux}} announced"), _query(
            f"{m.LB_BGP_ACCEPTED}{{{LAB}}}", "{{mux}} accepted by the ToR", ref="B"),
            description="A MUX announces a VIP while its XDP program is attached and the VIP has "
                        "a healthy backend in its own probes."))
        .with_row(Row("Verify"))
        .with_panel(_passed_column(_table("LB checks (latest run)", {
            "A": (f'{m.CHECK_PASSED}{{{LAB}, group="lb"}}', "result"),
            "B": (f'{m.CHECK_DURATION}{{{LAB}, group="lb"}}', "duration")},
            ["lab", "group", "check"]), "result"))
        .with_panel(_panel(bargauge.Panel(), "Distribution check: flows per backend", _query(
            f'{m.CHECK_METRIC}{{{LAB}, group="lb", metric=~"backend_flows:.*"}}', "{{metric}}",
            instant=True)))
    )


def site_to_site_vpn(report_url: str = g.DEFAULT_REPORT_URL) -> DashboardBuilder:
    """Instances are told apart by (vpn, role): Prometheus renames the exported
    `instance` label to exported_instance unless the scrape honours labels.
    The stats are instant: a pair's former serving instance drops out of them."""
    sel = f'{LAB}, vpn=~"$vpn"'
    serving = f"{m.VPN_INSTANCE_SERVING}{{{sel}}} == 1"

    def throughput(metric: str, direction: str, ref: str) -> Dataquery:
        return _query(f"8 * sum by (lab, vpn, role) (rate({metric}_total{{{sel}}}[{RATE}]))",
                      f"{{{{vpn}}}} {{{{role}}}} {direction}", ref=ref)

    return (
        _base("stacklab-vpn", "stacklab: site-to-site VPN",
              "VPN gateways read from their daemons at each scrape: tunnels, the serving instance "
              "of a pair, daemons, throughput and WireGuard handshakes.", ["vpn"], report_url)
        .with_variable(_variable("vpn", "VPN gateway", m.VPN_TUNNEL_UP, LAB))
        .with_row(Row("Site-to-site VPN"))
        .with_panel(g.ok_when_one(_panel(statetimeline.Panel(), "Tunnel up per VPN (the site's view)", _query(
            f"{m.VPN_TUNNEL_UP}{{{sel}}}", "{{vpn}} ({{protocol}})")), "up", "down"))
        .with_panel(g.named_states(_stat("Serving instance now", _query(
            f'{m.VPN_INSTANCE_SERVING}{{{sel}, role="active"}} == 1'
            f' or 2 * ({m.VPN_INSTANCE_SERVING}{{{sel}, role="standby"}} == 1)',
            "{{vpn}}", instant=True), w=12, h=8, description="Standby (orange): the pair failed over "
                                                           "from its active instance.")
            .text_mode(BigValueTextMode.VALUE_AND_NAME),
            (1, "active", g.GOOD), (2, "standby", g.WARN)))
        .with_row(Row("Gateway instances"))
        .with_panel(g.named_states(_panel(statetimeline.Panel(), "Serving instance over time", _query(
            f"{m.VPN_INSTANCE_SERVING}{{{sel}}}", "{{vpn}} {{role}}")),
            (0, "standing by", g.IDLE), (1, "serving", g.INFO)))
        .with_panel(g.ok_when_one(_panel(statetimeline.Panel(), "VPN daemon up per instance", _query(
            f"{m.VPN_INSTANCE_UP}{{{sel}}}", "{{vpn}} {{role}}")), "up", "down"))
        .with_panel(_ts("Throughput per instance", throughput(m.VPN_RX_BYTES, "receive", "A"),
                        throughput(m.VPN_TX_BYTES, "transmit", "B"), unit="bps",
                        description="rate() of byte counters that start again at each re-key."))
        .with_panel(g.bad_from(_stat("Since the last WireGuard handshake", _query(
            f"time() - {m.VPN_LAST_HANDSHAKE}{{{sel}}} and on (lab, vpn, role) ({serving})", "{{vpn}}",
            instant=True),
            unit="s", w=12, h=8, description="Of the serving instance; WireGuard re-handshakes every "
                                             "2 min while keepalives flow."), g.STALE_HANDSHAKE_S))
    )


def storage(report_url: str = g.DEFAULT_REPORT_URL) -> DashboardBuilder:
    iops = f'{m.CHECK_METRIC}{{{LAB}, group="storage", metric="iops"}}'
    cap = f'{m.CHECK_METRIC}{{{LAB}, group="storage", metric="iops_target"}}'
    return (
        _base("stacklab-storage", "stacklab: storage IOPS vs caps",
              "fio on every capped data disk: measured IOPS against the tier's cap.", ["storage"],
              report_url)
        .with_panel(_panel(bargauge.Panel(), "Measured IOPS per disk", _query(
            iops, "{{check}}", instant=True), unit="iops"))
        .with_panel(_panel(bargauge.Panel(), "IOPS cap per disk", _query(
            cap, "{{check}}", instant=True), unit="iops"))
        .with_panel(g.color_steps(_ts("Measured IOPS as % of cap", _query(
            f"{iops} / ignoring (metric) {cap}", "{{check}}"), unit="percentunit",
            description="1.0 = exactly the cap; the spec allows the iops tolerance either side."),
            g.BAD, (0.95, g.GOOD), (1.05, g.BAD)))
        .with_panel(_ts("IOPS and cap over time", _query(iops, "{{check}} measured"),
                        _query(cap, "{{check}} cap", ref="B"), unit="iops"))
        .with_panel(_passed_column(_table("Storage checks (latest run)", {
            "A": (f'{m.CHECK_PASSED}{{{LAB}, group="storage"}}', "result"),
            "B": (f"max without (metric) ({iops})", "measured IOPS"),
            "C": (f"max without (metric) ({cap})", "cap IOPS")},
            ["lab", "group", "check"], w=24), "result"))
    )


def regression_history(report_url: str = g.DEFAULT_REPORT_URL) -> DashboardBuilder:
    return (
        _base("stacklab-regress", "stacklab: regression history",
              "Nightly verify/regress outcomes over time and the metrics they compare.", ["regress"],
              report_url)
        .with_variable(_variable("metric", "Metric", m.CHECK_METRIC, LAB))
        .with_panel(g.bad_from(_stat("Regressions in last comparison", _query(
            f"{m.REGRESS_LAST_REGRESSIONS}{{{LAB}}}", "{{lab}}")), 1, "none"))
        .with_panel(_stat("Comparisons recorded", _query(f"{m.REGRESS_RUNS}_total{{{LAB}}}", "{{lab}}"))
                    .color_mode(BigValueColorMode.NONE))
        .with_panel(g.bad_from(_stat("Since last comparison", _query(
            f"time() - {m.REGRESS_LAST_TIMESTAMP}{{{LAB}}}", "{{lab}}"), unit="s"), g.NO_RUN_FOR_S))
        .with_panel(g.color_steps(_stat("Verify runs (24 h)", _query(
            f"increase({m.VERIFY_RUNS}_total{{{LAB}}}[1d])", "{{lab}}")).decimals(0),
            g.BAD, (0.5, g.GOOD)))
        .with_panel(g.bad_from(_ts("Regressions per comparison", _query(
            f"{m.REGRESS_LAST_REGRESSIONS}{{{LAB}}}", "{{lab}}")), 1))
        .with_panel(g.ok_when_one(_panel(statetimeline.Panel(), "Verify passed", _query(
            f"{m.VERIFY_LAST_RUN_PASSED}{{{LAB}}}", "{{lab}}")), "passed", "FAILED"))
        .with_panel(_ts("Check metrics over time (median of samples)", _query(
            f'{m.CHECK_METRIC}{{{LAB}, metric=~"$metric"}}', "{{check}} {{metric}}"), w=24))
        .with_panel(_ts("Check durations", _query(
            f"{m.CHECK_DURATION}{{{LAB}}}", "{{group}}/{{check}}"), unit="s", w=24))
    )


DASHBOARDS: dict[str, Callable[[str], DashboardBuilder]] = {
    "lab-overview": lab_overview,
    "load-balancer": load_balancer,
    "site-to-site-vpn": site_to_site_vpn,
    "storage-iops": storage,
    "regression-history": regression_history,
}


def render(name: str, report_url: str = g.DEFAULT_REPORT_URL) -> dict[str, Any]:
    return json.loads(json.dumps(DASHBOARDS[name](report_url).build(), cls=JSONEncoder))


def dashboard_json(name: str, report_url: str = g.DEFAULT_REPORT_URL) -> str:
    return json.dumps(render(name, report_url), indent=2, sort_keys=True) + "\n"


def write_dashboards(out_dir: Path = DASHBOARD_DIR,
                     report_url: str = g.DEFAULT_REPORT_URL) -> list[Path]:
    """Write every dashboard; `report_url` is the default of their report_url
    variable (where <lab>/report/index.html is reachable from a browser)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name in DASHBOARDS:
        path = out_dir / f"{name}.json"
        path.write_text(dashboard_json(name, report_url))
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


def annotation_queries(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(annotation name, PromQL) for every Prometheus annotation of a dashboard."""
    for annotation in dashboard.get("annotations", {}).get("list", []):
        if annotation.get("expr"):
            yield annotation["name"], annotation["expr"]


if __name__ == "__main__":  # pragma: no cover
    for path in write_dashboards(Path(sys.argv[1]) if len(sys.argv) > 1 else DASHBOARD_DIR):
        print(path)
