"""Is this run worse than the baseline? Per metric, with statistics, not hunches.

A metric regresses only when all three hold:
  1. a one-sided Mann-Whitney U test over the repeated samples says the current
     run is worse than the baseline (p < alpha) -- the direction comes from
     the metric (higher/lower is better, or distance from a target);
  2. the effect is large (Cliff's delta in the worse direction >= a floor),
     so a consistent but tiny shift does not page anyone;
  3. the median moved the wrong way by more than the metric's tolerance
     (percent of the baseline median, or of the target for target metrics;
     IOPS: 3 % of an uncapped disk's median, the topology's
     iops_tolerance_pct of a capped disk's cap).
An improvement can never fail: every test looks only in the worse direction.
When there are too few samples for the test to ever reach alpha, the decision
falls back to the tolerance alone and says so. A check that was inconclusive
on either side, or measured while the host was busy (the host load it
recorded), is shown but not compared: its samples measure the host, not the
lab, and `lab regress` exits 4 (the rig could not judge), not 0 or 3.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # numpy and scipy load when a comparison runs, not with the CLI
    import numpy as np


from lab.report.history import History, RunRecord
from lab.verify.result import CheckResult

Direction = Literal["higher_is_better", "lower_is_better", "target"]
Outcome = Literal["regression", "ok", "improvement", "not_compared"]


@dataclass(frozen=True)
class MetricSpec:
    direction: Direction
    target: float | None = None
    tolerance_pct: float = 5.0
    alpha: float = 0.01
    min_effect: float = 0.5  # Cliff's delta; ~0.47 is the usual "large" threshold
    # tolerance when a sibling "<metric>_target" makes this a target metric
    # (None: tolerance_pct); a cap's spec band is not a regression threshold
    target_tolerance_pct: float | None = None


@dataclass
class MetricComparison:
    check: str
    metric: str
    direction: Direction
    baseline: float
    current: float
    change_pct: float  # worse direction positive
    p_value: float | None
    effect: float | None
    outcome: Outcome
    method: str
    reason: str
    target: float | None = None
    n_baseline: int = 0
    n_current: int = 0


@dataclass
class RegressionReport:
    lab: str
    current_run_id: int | None
    baseline_run_id: int | None
    baseline_kind: str  # "pinned", "last good" or "none"
    comparisons: list[MetricComparison] = field(default_factory=list)
    newly_failing: list[str] = field(default_factory=list)
    config_diff: dict[str, tuple[Any, Any]] = field(default_factory=dict)

    @property
    def regressions(self) -> list[MetricComparison]:
        return [c for c in self.comparisons if c.outcome == "regression"]

    @property
    def passed(self) -> bool:
        return not self.regressions and not self.newly_failing

    @property
    def unjudged(self) -> list[MetricComparison]:
        """Comparisons the rig could not make (inconclusive check, busy host)."""
        return [c for c in self.comparisons if c.outcome == "not_compared"]

    def to_json(self) -> dict[str, Any]:
        return {
            "passed": self.passed, "lab": self.lab, "current_run_id": self.current_run_id,
            "baseline_run_id": self.baseline_run_id, "baseline_kind": self.baseline_kind,
            "regressions": [asdict(c) for c in self.regressions],
            "newly_failing": self.newly_failing,
            "config_diff": {k: {"baseline": a, "current": b} for k, (a, b) in self.config_diff.items()},
            "comparisons": [asdict(c) for c in self.comparisons],
        }


# Metric names checks are expected to use (see lab/report/metrics.md for the
# list); anything not listed falls back to its suffix, else is not compared.
KNOWN_METRICS: dict[str, MetricSpec] = {
    # an uncapped disk regresses when its median IOPS fell more than 3 %: a
    # real 5 % drop is caught even with each night's median 1 % off by noise
    # (at 5 % it would be caught half the time). A capped disk is compared by
    # its distance from the cap, within the topology's iops_tolerance_pct band.
    "iops": MetricSpec("higher_is_better", tolerance_pct=3.0, target_tolerance_pct=5.0),
    "latency_us": MetricSpec("lower_is_better", tolerance_pct=10.0),
    # in an emulated lab on shared cores RTT follows the scheduler: only a doubling
    # is attributable (a topology's spec can tighten it for real hardware)
    "rtt_ms": MetricSpec("lower_is_better", tolerance_pct=100.0),
    "failover_s": MetricSpec("lower_is_better", tolerance_pct=20.0),
    "loss_ratio": MetricSpec("lower_is_better", tolerance_pct=0.0),
    "throughput_bps": MetricSpec("higher_is_better"),
    "pps": MetricSpec("higher_is_better"),
    "chi_square_stat": MetricSpec("lower_is_better", tolerance_pct=50.0),
}
_SUFFIXES: tuple[tuple[str, Direction], ...] = (
    ("_s", "lower_is_better"), ("_ms", "lower_is_better"), ("_us", "lower_is_better"),
    ("_ns", "lower_is_better"), ("_ratio", "lower_is_better"), ("_errors", "lower_is_better"),
    ("_bps", "higher_is_better"), ("_pps", "higher_is_better"), ("_iops", "higher_is_better"),
)

TARGET_SUFFIX = "_target"
SpecResolver = Callable[[str, str], MetricSpec | None]


def default_spec(check: str, metric: str) -> MetricSpec | None:
    """Direction of a metric from its name; None = direction unknown, not compared."""
    if metric in KNOWN_METRICS:
        return KNOWN_METRICS[metric]
    for suffix, direction in _SUFFIXES:
        if metric.endswith(suffix):
            return MetricSpec(direction)
    return None


def resolver(specs: Mapping[str, MetricSpec] | None = None,
             fallback: SpecResolver = default_spec) -> SpecResolver:
    """Look a metric up as "check:metric", then "metric", then by the fallback."""
    specs = dict(specs or {})

    def resolve(check: str, metric: str) -> MetricSpec | None:
        return specs.get(f"{check}:{metric}") or specs.get(metric) or fallback(check, metric)
    return resolve


def _badness(samples: np.ndarray, spec: MetricSpec) -> np.ndarray:
    """Map samples to a scale where larger is worse."""
    if spec.direction == "higher_is_better":
        return -samples
    if spec.direction == "target":
        return abs(samples - float(spec.target or 0.0))
    return samples


def _min_p(n1: int, n2: int) -> float:
    """Smallest one-sided p an exact Mann-Whitney test can give for these sizes."""
    return 1.0 / math.comb(n1 + n2, n1)


def compare_samples(check: str, metric: str, baseline: list[float], current: list[float],
                    spec: MetricSpec) -> MetricComparison:
    """Decide regression / improvement / ok for one metric (pure; no I/O)."""
    if spec.direction == "target" and spec.target is None:
        raise ValueError(f"{check}:{metric}: a target metric needs a target value")
    import numpy as np
    from scipy.stats import mannwhitneyu

    base, cur = np.asarray(baseline, float), np.asarray(current, float)
    bad_base, bad_cur = _badness(base, spec), _badness(cur, spec)
    med_base, med_cur = float(np.median(base)), float(np.median(cur))
    scale = abs(spec.target) if spec.direction == "target" else abs(float(np.median(bad_base)))
    worse = float(np.median(bad_cur) - np.median(bad_base))
    change_pct = 100.0 * worse / scale if scale > 0 else (math.inf if worse > 0 else 0.0)
    common = {"check": check, "metric": metric, "direction": spec.direction, "baseline": med_base,
                  "current": med_cur, "change_pct": change_pct, "target": spec.target,
                  "n_baseline": len(base), "n_current": len(cur)}
    beyond_tolerance = change_pct > spec.tolerance_pct
    if len(base) < 1 or len(cur) < 1:
        return MetricComparison(**common, p_value=None, effect=None, outcome="not_compared",
                                method="none", reason="no samples on one side")
    if _min_p(len(base), len(cur)) >= spec.alpha:
        outcome: Outcome = "regression" if beyond_tolerance else (
            "improvement" if change_pct < -spec.tolerance_pct else "ok")
        return MetricComparison(
            **common, p_value=None, effect=None, outcome=outcome, method="tolerance-only",
            reason=f"{len(base)} vs {len(cur)} samples cannot reach p<{spec.alpha}; "
                   f"median moved {change_pct:+.1f}% (tolerance {spec.tolerance_pct}%)")
    u, p = mannwhitneyu(bad_cur, bad_base, alternative="greater")
    effect = 2.0 * float(u) / (len(cur) * len(base)) - 1.0  # Cliff's delta, + = worse
    if p < spec.alpha and effect >= spec.min_effect and beyond_tolerance:
        outcome, reason = "regression", (
            f"worse by {change_pct:.1f}% (tolerance {spec.tolerance_pct}%), "
            f"p={p:.2g}, effect {effect:.2f}")
    else:
        improved = change_pct < -spec.tolerance_pct
        outcome = "improvement" if improved else "ok"
        reason = _why_not(p, effect, change_pct, spec)
    return MetricComparison(**common, p_value=float(p), effect=effect, outcome=outcome,
                            method="mann-whitney", reason=reason)


def _why_not(p: float, effect: float, change_pct: float, spec: MetricSpec) -> str:
    reasons = []
    if p >= spec.alpha:
        reasons.append(f"p={p:.2g} >= {spec.alpha}")
    if effect < spec.min_effect:
        reasons.append(f"effect {effect:.2f} < {spec.min_effect}")
    if change_pct <= spec.tolerance_pct:
        reasons.append(f"change {change_pct:+.1f}% within {spec.tolerance_pct}%")
    return "; ".join(reasons)


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, Mapping):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    else:
        out[prefix] = value


def config_diff(baseline: RunRecord, current: RunRecord) -> dict[str, tuple[Any, Any]]:
    """What changed between two runs: topology hash and every config leaf."""
    a: dict[str, Any] = {"topology_hash": baseline.topology_hash}
    b: dict[str, Any] = {"topology_hash": current.topology_hash}
    _flatten("", baseline.config, a)
    _flatten("", current.config, b)
    return {k: (a.get(k), b.get(k)) for k in sorted(a.keys() | b.keys()) if a.get(k) != b.get(k)}


HOST_PREFIX = "host_"  # the host's load while the check measured: the rig, not the lab


def _spec_for(resolve: SpecResolver, check: str, metric: str,
              metrics: Mapping[str, list[float]]) -> MetricSpec | None:
    """A sibling metric "<metric>_target" (e.g. iops_target = the disk's cap)
    turns <metric> into a target metric; target values themselves are not
    compared, nor is the host load a check recorded beside its samples."""
    if metric.endswith(TARGET_SUFFIX) or metric.startswith(HOST_PREFIX):
        return None
    spec = resolve(check, metric)
    target = metrics.get(metric + TARGET_SUFFIX)
    if target:
        spec = spec or MetricSpec("target")
        return replace(spec, direction="target", target=float(statistics.median(target)),
                       tolerance_pct=spec.target_tolerance_pct or spec.tolerance_pct)
    return spec


def specs_from_topology(topology: Any) -> dict[str, MetricSpec]:
    """Per-metric tolerances the topology's `specs` section sets: how far a
    capped disk may sit from its cap (iops_tolerance_pct) bounds how far it
    may drift from the baseline's distance before that is a regression."""
    specs = dict(KNOWN_METRICS)
    tol = float(topology.specs.iops_tolerance_pct)
    specs["iops"] = replace(specs["iops"], target_tolerance_pct=tol)
    return specs


def compare_runs(baseline: RunRecord | None, current: RunRecord,
                 specs: SpecResolver | Mapping[str, MetricSpec] | None = None,
                 baseline_kind: str = "last good") -> RegressionReport:
    resolve = specs if callable(specs) else resolver(specs)
    report = RegressionReport(lab=current.lab, current_run_id=current.id,
                              baseline_run_id=baseline.id if baseline else None,
                              baseline_kind=baseline_kind if baseline else "none")
    if baseline is None:
        return report
    report.config_diff = config_diff(baseline, current)
    before = {r.name: r for r in baseline.results}
    for r in current.results:
        old = before.get(r.name)
        if old is None:
            continue
        if old.verdict == "pass" and r.verdict in ("fail", "error"):
            report.newly_failing.append(r.name)
        unjudged = _unjudged_side(old, r)
        for metric, samples in r.metrics.items():
            spec = _spec_for(resolve, r.name, metric, r.metrics)
            if spec is None or not old.metrics.get(metric) or not samples:
                continue
            compared = compare_samples(r.name, metric, old.metrics[metric], samples, spec)
            if unjudged:  # shown with its numbers, never counted as a regression
                compared = replace(compared, outcome="not_compared", reason=unjudged)
            report.comparisons.append(compared)
    return report


def _unjudged_side(baseline: CheckResult, current: CheckResult) -> str:
    """Samples an inconclusive check took, or any taken while the host was
    busy (the load the check recorded, lab.compute.host_load), say nothing
    about the lab: a comparison with them would page on the host's load (an
    RTT of 0.15 ms measured 2.6 ms with CPU pressure at 99%)."""
    from lab.compute.host_load import HostLoad

    for side, r in (("current", current), ("baseline", baseline)):
        if r.verdict == "inconclusive":
            return f"{side} run inconclusive: {r.measured}"
    for side, r in (("current", current), ("baseline", baseline)):
        load = HostLoad.from_metrics(r.metrics)
        if load is not None and load.busy:
            return f"{side} run on a busy host: {load.describe()}"
    return ""


def regress_against_baseline(history: History, current_run_id: int,
                             specs: SpecResolver | Mapping[str, MetricSpec] | None = None,
                             baseline_run_id: int | None = None,
                             record: bool = True) -> RegressionReport:
    """Compare a recorded run with a baseline: the given run, else the pinned
    one, else the last good run before it. Records the outcome in the history."""
    current = history.run(current_run_id)
    if baseline_run_id is not None:
        baseline, kind = history.run(baseline_run_id), "given"
    else:
        pinned = history.pinned_run_id(current.lab)
        baseline = history.baseline(current.lab, before=current_run_id)
        kind = "pinned" if baseline and baseline.id == pinned else "last good"
    report = compare_runs(baseline, current, specs, kind)
    if record:
        history.record_regress(current.lab, report.baseline_run_id, current_run_id,
                               len(report.regressions) + len(report.newly_failing),
                               report.to_json())
    return report
