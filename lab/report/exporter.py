"""`lab exporter`: Prometheus metrics for the latest verify results, the run
history and live LB/fabric counters.

Results are read from the lab's history database at scrape time (no state in
the exporter), so a `lab verify` that finishes is visible at the next scrape.
"""

from __future__ import annotations

import logging
import statistics
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from lab.report import metric_names as m
from lab.report.flaky import consecutive_failures
from lab.report.history import History, RunRecord, history_path
from lab.report.live import LiveCollector, LiveCollectorSet, registered_factories
from lab.verify.result import VERDICTS

log = logging.getLogger(__name__)

DEFAULT_ADDRESS = "127.0.0.1"
DEFAULT_PORT = 9464
STREAK_RUNS = 100  # how far back a failure streak is counted (the alert asks for a few nights)


class HistoryCollector:
    """Families built from the history database of one or more lab directories."""

    def __init__(self, lab_dirs: Sequence[str | Path]):
        self.paths = [history_path(d) for d in lab_dirs]

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterable[Metric]:
        families = _Families()
        for path in self.paths:
            if not path.exists():
                continue
            with History(path) as history:
                for lab in history.labs():
                    families.add_lab(history, lab)
        return families.all()


class _Families:
    def __init__(self) -> None:
        labels = m.CHECK_LABELS
        self.verdict = GaugeMetricFamily(
            m.CHECK_VERDICT, "Verdict of a check in the latest verify run (1 on the current verdict).",
            labels=(*labels, "verdict"))
        self.passed = GaugeMetricFamily(
            m.CHECK_PASSED, "Whether a check passed in the latest verify run (skipped counts as 1).",
            labels=labels)
        self.duration = GaugeMetricFamily(
            m.CHECK_DURATION, "Duration of a check in the latest verify run.", labels=labels)
        self.metric = GaugeMetricFamily(
            m.CHECK_METRIC, "Median of a check metric's samples in the latest verify run.",
            labels=(*labels, "metric"))
        self.streak = GaugeMetricFamily(
            m.CHECK_CONSECUTIVE_FAILURES,
            "Verify runs in a row, up to the latest, in which a check failed or errored.",
            labels=labels)
        self.runs = CounterMetricFamily(m.VERIFY_RUNS, "Verify runs recorded.", labels=("lab",))
        self.passed_runs = CounterMetricFamily(
            m.VERIFY_PASSED_RUNS, "Verify runs that passed.", labels=("lab",))
        self.ratio = GaugeMetricFamily(
            m.VERIFY_PASS_RATIO, "Share of recorded verify runs that passed.", labels=("lab",))
        self.last_ts = GaugeMetricFamily(
            m.VERIFY_LAST_RUN_TIMESTAMP, "Start of the latest verify run (Unix time).",
            labels=("lab",))
        self.last_id = GaugeMetricFamily(
            m.VERIFY_LAST_RUN_ID, "History id of the latest verify run (its HTML page is runs/<id>.html).",
            labels=("lab",))
        self.last_passed = GaugeMetricFamily(
            m.VERIFY_LAST_RUN_PASSED, "Whether the latest verify run passed.", labels=("lab",))
        self.last_duration = GaugeMetricFamily(
            m.VERIFY_LAST_RUN_DURATION, "Duration of the latest verify run.", labels=("lab",))
        self.last_checks = GaugeMetricFamily(
            m.VERIFY_LAST_RUN_CHECKS, "Checks in the latest verify run by verdict.",
            labels=("lab", "verdict"))
        self.regress_runs = CounterMetricFamily(
            m.REGRESS_RUNS, "Regression comparisons recorded.", labels=("lab",))
        self.regress_last = GaugeMetricFamily(
            m.REGRESS_LAST_REGRESSIONS, "Regressions found by the latest comparison.",
            labels=("lab",))
        self.regress_ts = GaugeMetricFamily(
            m.REGRESS_LAST_TIMESTAMP, "Time of the latest regression comparison (Unix time).",
            labels=("lab",))

    def add_lab(self, history: History, lab: str) -> None:
        summary = history.summary(lab)
        self.runs.add_metric([lab], summary.runs_total)
        self.passed_runs.add_metric([lab], summary.passed_total)
        self.ratio.add_metric([lab], summary.pass_ratio)
        latest = history.latest_run(lab)
        if latest is not None:
            self._add_latest(latest)
            self._add_streaks(lab, latest.id, history.verdict_history(lab, STREAK_RUNS))
        regress = history.regress_runs(lab, limit=1_000_000)
        self.regress_runs.add_metric([lab], len(regress))
        if regress:
            self.regress_last.add_metric([lab], regress[-1]["regressions"])
            self.regress_ts.add_metric([lab], regress[-1]["at"])

    def _add_latest(self, run: RunRecord) -> None:
        lab = run.lab
        self.last_ts.add_metric([lab], run.started_at)
        if run.id is not None:
            self.last_id.add_metric([lab], run.id)
        self.last_passed.add_metric([lab], 1.0 if run.passed else 0.0)
        self.last_duration.add_metric([lab], run.duration_s)
        for verdict in VERDICTS:
            self.last_checks.add_metric([lab, verdict], sum(r.verdict == verdict for r in run.results))
        for r in run.results:
            labels = [lab, r.group, r.name]
            for verdict in VERDICTS:
                self.verdict.add_metric([*labels, verdict], 1.0 if r.verdict == verdict else 0.0)
            self.passed.add_metric(labels, 1.0 if r.passed else 0.0)
            self.duration.add_metric(labels, r.duration_s)
            for metric, samples in r.metrics.items():
                if samples:
                    self.metric.add_metric([*labels, metric], statistics.median(samples))

    def _add_streaks(self, lab: str, latest_id: int | None,
                     runs: list[tuple[int, dict[tuple[str, str], str]]]) -> None:
        """One sample per check of the latest run (0 when it passed)."""
        if not runs or runs[-1][0] != latest_id:
            return
        for group, name in runs[-1][1]:
            streak = consecutive_failures([verdicts.get((group, name)) for _, verdicts in runs])
            self.streak.add_metric([lab, group, name], streak)

    def all(self) -> list[Metric]:
        return [v for v in vars(self).values() if isinstance(v, Metric)]


def build_registry(lab_dirs: Sequence[str | Path], lab: str | None = None,
                   live: Mapping[str, LiveCollector] | None = None,
                   use_registered: bool = True) -> CollectorRegistry:
    """A registry serving the history of `lab_dirs` plus live collectors: the
    given ones and, if `use_registered`, those feature packages registered."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(HistoryCollector(lab_dirs))
    collectors = LiveCollectorSet(live)
    if use_registered:
        for lab_dir in lab_dirs:
            name_of_lab = lab or Path(lab_dir).name
            for name, factory in registered_factories().items():
                try:
                    collector = factory(Path(lab_dir), name_of_lab)
                except Exception:  # a lab without an LB still exports the rest
                    log.exception("live collector %s could not start", name)
                    continue
                if collector is not None:
                    collectors.add(name, collector)
    registry.register(collectors)
    return registry


def serve(registry: CollectorRegistry, address: str = DEFAULT_ADDRESS,
          port: int = DEFAULT_PORT, auth_file: Path | None = None):
    """Start the HTTP endpoint in a daemon thread; returns (server, thread).
    With `auth_file` (a bcrypt htpasswd, lab.ops.secrets' `exporter`), every
    scrape needs basic auth, checked against the file as it is at that moment,
    so a rotation needs no restart."""
    if auth_file is None:
        return start_http_server(port, addr=address, registry=registry)
    from wsgiref.simple_server import make_server

    from prometheus_client.exposition import ThreadingWSGIServer, _SilentHandler, make_wsgi_app

    from lab.ops.htpasswd import BasicAuth

    httpd = make_server(address, port, BasicAuth(make_wsgi_app(registry), auth_file), ThreadingWSGIServer,
                        handler_class=_SilentHandler)
    thread = threading.Thread(target=httpd.serve_forever, name="exporter", daemon=True)
    thread.start()
    return httpd, thread
