"""Grafana building blocks shared by the stacklab dashboards: colours that say
good or bad, real tables, run annotations and links to the HTML report.

Why these shapes:
- A 0/1 gauge read at a glance must not look green when it is 0: value
  mappings give the words (PASSED/FAILED, up/down) and their colours, and the
  thresholds say the same for values no mapping covers.
- A table panel over Prometheus needs `format: table` on instant queries
  (one row per series, labels as columns); several queries become one table
  with the `merge` transformation, and `organize` hides Time/__name__ and
  names the value columns.
- Annotations come from Prometheus, not Grafana's own store: the run's
  start-time gauge, with "series value as timestamp", marks every run on
  every time-series panel; failed runs get a red marker of their own.
- The HTML report's location is a dashboard variable (report_url), so one
  JSON works for a file:// path on the lab host or an HTTP server.
"""

from __future__ import annotations

from typing import Any

from grafana_foundation_sdk.builders.dashboard import (
    DashboardLink,
    FieldColor,
    TextBoxVariable,
    ThresholdsConfig,
)
from grafana_foundation_sdk.builders.prometheus import Dataquery
from grafana_foundation_sdk.models.dashboard import (
    AnnotationQuery,
    DashboardLinkType,
    DataSourceRef,
    DataTransformerConfig,
    DynamicConfigValue,
    FieldColorModeId,
    MatcherConfig,
    Threshold,
    ThresholdsMode,
    ValueMap,
    ValueMappingResult,
)
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

from lab.paths import DEFAULT_HOME

GOOD, BAD, WARN, ERROR, SKIP, INFO = "green", "red", "orange", "purple", "yellow", "blue"
IDLE = "text"  # neither good nor bad: a standby standing by
VERDICT_COLORS = {"pass": GOOD, "fail": BAD, "error": ERROR, "skipped": SKIP}
# Where `lab report` writes, for the default STACKLAB_HOME: <results>/<lab>/report/.
DEFAULT_REPORT_URL = (DEFAULT_HOME / "results").as_uri()
REPORT_URL = "${report_url}"
NO_RUN_FOR_S = 26 * 3600  # same limit as the StacklabNoVerifyRun alert
# WireGuard re-handshakes every 2 min while keepalives flow (the serving gateway sends them).
STALE_HANDSHAKE_S = 180
HIDDEN_COLUMNS = ("Time", "__name__", "instance", "job")


def steps(base: str, *levels: tuple[float, str]) -> ThresholdsConfig:
    """Absolute thresholds: `base` below the first level, then each level's colour."""
    return ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps(
        [Threshold(None, base), *(Threshold(value, color) for value, color in levels)])


def _color_by_thresholds(panel: Any) -> Any:
    return panel.color_scheme(FieldColor().mode(FieldColorModeId.THRESHOLDS))


def ok_when_one(panel: Any, ok: str = "pass", bad: str = "FAIL") -> Any:
    """A 0/1 gauge where 1 is good (passed, link up, healthy): words and colours."""
    return _color_by_thresholds(panel.mappings([one_zero(ok, bad)]).thresholds(steps(BAD, (1, GOOD))))


def one_zero(ok: str, bad: str) -> ValueMap:
    return ValueMap({"1": ValueMappingResult(ok, GOOD, index=0),
                     "0": ValueMappingResult(bad, BAD, index=1)})


def named_states(panel: Any, *states: tuple[int, str, str]) -> Any:
    """A gauge whose values name states, none of them failed by itself (which
    instance of a pair serves): (value, word, colour) each, lowest value first."""
    mapping = ValueMap({str(value): ValueMappingResult(word, color, index=i)
                        for i, (value, word, color) in enumerate(states)})
    return color_steps(panel.mappings([mapping]), states[0][2], *((v, c) for v, _, c in states[1:]))


def color_steps(panel: Any, base: str, *levels: tuple[float, str]) -> Any:
    return _color_by_thresholds(panel.thresholds(steps(base, *levels)))


def bad_from(panel: Any, level: float, ok_text: str | None = None) -> Any:
    """A count or age where `level` and more is bad (regressions, failures, staleness)."""
    if ok_text is not None:
        panel = panel.mappings([ValueMap({"0": ValueMappingResult(ok_text, GOOD, index=0)})])
    return color_steps(panel, GOOD, (level, BAD))


def verdict_colors() -> ValueMap:
    return ValueMap({v: ValueMappingResult(v, c, index=i)
                     for i, (v, c) in enumerate(VERDICT_COLORS.items())})


def table_query(expr: str, ref: str, datasource: DataSourceRef) -> Dataquery:
    return (Dataquery().expr(expr).ref_id(ref).datasource(datasource).instant()
            .format(PromQueryFormat.TABLE))


def table_transformations(columns: dict[str, str], order: list[str]) -> list[DataTransformerConfig]:
    """`columns` maps each query's refId to its value column's name ("" hides the
    column: a filter query's constant 1); `order` lists the label columns to show first."""
    value = (lambda ref: f"Value #{ref}") if len(columns) > 1 else (lambda ref: "Value")
    hidden = [value(ref) for ref, name in columns.items() if not name]
    shown = {value(ref): name for ref, name in columns.items() if name}
    organize = {"excludeByName": {c: True for c in [*HIDDEN_COLUMNS, *hidden]},
                "renameByName": shown,
                "indexByName": {c: i for i, c in enumerate([*order, *shown.values()])}}
    merge = [DataTransformerConfig("merge", options={})] if len(columns) > 1 else []
    return [*merge, DataTransformerConfig("organize", options=organize)]


def column_override(panel: Any, column: str, *properties: tuple[str, Any]) -> Any:
    return panel.with_override(MatcherConfig("byName", column),
                               [DynamicConfigValue(k, v) for k, v in properties])


def colored_cells(mapping: ValueMap | None = None, thresholds: ThresholdsConfig | None = None
                  ) -> list[tuple[str, Any]]:
    """Override properties that paint a table column's cells by mapping or threshold."""
    props: list[tuple[str, Any]] = [("custom.cellOptions", {"type": "color-background"}),
                                    ("color", {"mode": "thresholds"})]
    if mapping is not None:
        props.append(("mappings", [mapping]))
    if thresholds is not None:
        props.append(("thresholds", thresholds.build()))
    return props


def report_link(title: str, path: str) -> dict[str, Any]:
    """A data link (panel field or table cell) into the HTML report tree."""
    return {"title": title, "url": f"{REPORT_URL}/{path}", "targetBlank": True}


def report_variable(default: str) -> TextBoxVariable:
    return (TextBoxVariable("report_url").label("HTML report base URL").default_value(default)
            .description("Directory (file:// or http://) holding <lab>/report/ as written by "
                         "`lab report`: $STACKLAB_HOME/results by default."))


def report_dashboard_link() -> DashboardLink:
    return (DashboardLink("HTML report").type(DashboardLinkType.LINK).icon("doc")
            .url(f"{REPORT_URL}/${{lab}}/report/index.html").target_blank(True)
            .tooltip("lab report: verdict, failing checks, trends (pick one lab)"))


class PrometheusAnnotation(AnnotationQuery):
    """An annotation query with the Prometheus data source's own fields, which
    the SDK's generic AnnotationQuery does not carry."""

    def __init__(self, name: str, expr: str, color: str, title: str, datasource: DataSourceRef,
                 step: str = "60s"):
        super().__init__(name=name, datasource=datasource, enable=True, icon_color=color, expr=expr)
        self.title_format, self.step = title, step

    def to_json(self) -> dict[str, object]:
        return super().to_json() | {"titleFormat": self.title_format, "step": self.step,
                                    "useValueForTime": True, "tagKeys": "lab", "textFormat": ""}

    def build(self) -> PrometheusAnnotation:  # the dashboard builder takes builders
        return self


def run_annotations(ts_metric: str, passed_metric: str, regress_ts_metric: str, selector: str,
                    datasource: DataSourceRef) -> list[PrometheusAnnotation]:
    """Verify runs (blue), failed verify runs (red) and regress comparisons (orange).
    The gauges hold a Unix time in seconds; Grafana wants milliseconds."""
    run_ms = f"{ts_metric}{{{selector}}} * 1000"
    return [
        PrometheusAnnotation("Verify runs", run_ms, INFO, "verify run ({{lab}})", datasource),
        PrometheusAnnotation("Failed verify runs",
                             f"{run_ms} and on (lab) ({passed_metric}{{{selector}}} == 0)",
                             BAD, "FAILED verify run ({{lab}})", datasource),
        PrometheusAnnotation("Regress comparisons", f"{regress_ts_metric}{{{selector}}} * 1000",
                             WARN, "regress comparison ({{lab}})", datasource),
    ]


class Built:
    """Wraps a finished JSON value where an SDK builder method expects a builder."""

    def __init__(self, value: Any):
        self.value = value

    def build(self) -> Any:
        return self.value


def with_data_links(panel: Any, *links: dict[str, Any]) -> Any:
    return panel.data_links([Built(link) for link in links])
