"""PNG plots of a lab's verify history (matplotlib, Agg: no display needed).

Each function takes history records and a path, writes one PNG and returns a
Plot (the path and the values drawn), or None when the history has nothing to
plot for it. The values are read back from the figure's artists after it was
drawn (every data artist carries its series name as gid), not from the inputs,
so the value table the report prints under a plot is what the plot shows.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - the backend must be chosen first
from matplotlib.collections import LineCollection  # noqa: E402

from lab.report.history import RunRecord  # noqa: E402

FLOWS_PREFIX = "backend_flows:"
COLORS = {"pass": "#2e7d32", "skipped": "#f9a825", "fail": "#c62828", "error": "#6a1b9a",
          "inconclusive": "#e65100"}
DPI = 110


def _label(run: RunRecord) -> str:
    when = dt.datetime.fromtimestamp(run.started_at).strftime("%m-%d %H:%M")
    return f"#{run.id}\n{when}"


@dataclass(frozen=True)
class Plot:
    path: Path
    values: list[tuple[str, str, float]]  # (series, x tick label, value) as drawn


def _save(fig: plt.Figure, path: Path) -> Plot:
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    values = [v for ax in fig.axes for v in _drawn(ax)]
    plt.close(fig)
    return Plot(path, values)


def _drawn(ax: plt.Axes) -> list[tuple[str, str, float]]:
    """(gid, x tick label, y) of every line point, bar and horizontal segment with a gid."""
    ticks = {round(float(t), 6): label.get_text().split("\n")[0]
             for t, label in zip(ax.get_xticks(), ax.get_xticklabels(), strict=True)}

    def at(x: float) -> str:
        return ticks.get(round(float(x), 6), f"{x:g}")

    out = []
    for line in ax.get_lines():
        if line.get_gid():
            out += [(line.get_gid(), at(x), float(y)) for x, y in line.get_xydata()]
    for patch in ax.patches:
        if patch.get_gid():
            out.append((patch.get_gid(), at(patch.get_x() + patch.get_width() / 2),
                        float(patch.get_height())))
    for collection in ax.collections:
        if collection.get_gid() and isinstance(collection, LineCollection):
            out += [(collection.get_gid(), at((seg[0][0] + seg[-1][0]) / 2), float(seg[0][1]))
                    for seg in collection.get_segments()]
    return out


def pass_fail_history(runs: Sequence[RunRecord], path: Path) -> Plot | None:
    """Stacked bars: checks per verdict in each run, so a bad night stands out."""
    if not runs:
        return None
    fig, ax = plt.subplots(figsize=(max(6.0, 0.6 * len(runs) + 2), 3.6))
    x = range(len(runs))
    bottom = [0] * len(runs)
    for verdict in ("pass", "skipped", "inconclusive", "fail", "error"):
        counts = [sum(r.verdict == verdict for r in run.results) for run in runs]
        if any(counts):
            ax.bar(x, counts, bottom=bottom, color=COLORS[verdict], label=verdict, width=0.7,
                   gid=verdict)
            bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
    for i, run in enumerate(runs):
        ax.text(i, bottom[i], "✓" if run.passed else "✗", ha="center", va="bottom",
                color=COLORS["pass" if run.passed else "fail"], fontsize=12, fontweight="bold")
    ax.set_xticks(list(x), [_label(r) for r in runs], fontsize=7)
    ax.set_ylabel("checks")
    ax.set_ylim(0, max(bottom) * 1.2 + 1)
    ax.set_title("Verify history: checks per verdict")
    ax.legend(loc="upper left", fontsize=8, ncols=4)
    return _save(fig, path)


def _disks(run: RunRecord) -> list[tuple[str, list[float], float | None]]:
    return [(r.name, r.metrics["iops"], (r.metrics.get("iops_target") or [None])[0])
            for r in run.results if r.metrics.get("iops")]


def iops_vs_cap(run: RunRecord, path: Path, tolerance_pct: float = 5.0) -> Plot | None:
    """Latest run: measured IOPS per disk against its cap (with the tolerance band);
    uncapped control disks on their own axis, since they are ten times faster."""
    disks = _disks(run)
    if not disks:
        return None
    capped = [d for d in disks if d[2] is not None]
    free = [d for d in disks if d[2] is None]
    fig, axes = plt.subplots(1, 2 if capped and free else 1, squeeze=False,
                             figsize=(9.5 if capped and free else 6.0, 3.8),
                             gridspec_kw={"width_ratios": [max(len(capped), 1), max(len(free), 1)]}
                             if capped and free else None)
    panels = [(capped, "capped disks: measured vs cap"), (free, "uncapped (control) disks")]
    for ax, (group, title) in zip(axes[0], [p for p in panels if p[0]], strict=True):
        names = [d[0].removeprefix("storage.") for d in group]
        medians = [statistics.median(d[1]) for d in group]
        low = [m - min(d[1]) for m, d in zip(medians, group, strict=True)]
        high = [max(d[1]) - m for m, d in zip(medians, group, strict=True)]
        x = range(len(group))
        ax.bar(x, medians, yerr=[low, high], capsize=4, color="#1565c0", width=0.6, label="measured",
               gid="measured IOPS (median)")
        for i, (_, _, cap) in enumerate(group):
            if cap is not None:
                band = cap * tolerance_pct / 100
                ax.fill_between([i - 0.4, i + 0.4], cap - band, cap + band, color="#ef6c00", alpha=0.25)
                ax.hlines(cap, i - 0.4, i + 0.4, color="#ef6c00", linewidth=2, gid="cap IOPS",
                          label="cap ± tolerance" if i == 0 else None)
            ax.text(i, medians[i] / 2, f"{medians[i]:.0f}", ha="center", va="center",
                    fontsize=9, color="white", fontweight="bold")
        top = max([m + h for m, h in zip(medians, high, strict=True)]
                  + [d[2] * (1 + tolerance_pct / 100) for d in group if d[2] is not None])
        ax.set_ylim(0, top * 1.3)
        ax.set_xticks(list(x), names, rotation=20, ha="right", fontsize=8)
        ax.set_ylabel("IOPS (4k random read)")
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=8, loc="upper right", ncols=2)
    fig.suptitle(f"IOPS vs cap, run #{run.id}")
    return _save(fig, path)


def iops_over_time(runs: Sequence[RunRecord], path: Path) -> Plot | None:
    series: dict[str, list[tuple[int, float, float | None]]] = defaultdict(list)
    for i, run in enumerate(runs):
        for name, samples, cap in _disks(run):
            series[name.removeprefix("storage.")].append((i, statistics.median(samples), cap))
    if not series:
        return None
    fig, ax = plt.subplots(figsize=(max(6.0, 0.6 * len(runs) + 2), 3.8))
    for name, points in sorted(series.items()):
        line, = ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=name,
                        gid=name)
        caps = [p for p in points if p[2] is not None]
        if caps:
            ax.plot([p[0] for p in caps], [p[2] for p in caps], linestyle="--", gid=f"{name} cap",
                    color=line.get_color(), alpha=0.6)
    ax.set_yscale("log")
    ax.set_xticks(range(len(runs)), [_label(r) for r in runs], fontsize=7)
    ax.set_ylabel("IOPS (log scale); dashed = cap")
    ax.set_title("IOPS per disk over time")
    ax.legend(fontsize=8)
    return _save(fig, path)


def lb_distribution(runs: Sequence[RunRecord], path: Path) -> Plot | None:
    """Share of flows per backend in each run's distribution check(s)."""
    checks = sorted({r.name for run in runs for r in run.results
                     if any(k.startswith(FLOWS_PREFIX) for k in r.metrics)})
    if not checks:
        return None
    fig, axes = plt.subplots(len(checks), 1, squeeze=False,
                             figsize=(max(6.0, 0.6 * len(runs) + 2), 3.2 * len(checks)))
    for ax, check in zip(axes[:, 0], checks, strict=True):
        shares: dict[str, list[float]] = defaultdict(lambda: [0.0] * len(runs))
        for i, run in enumerate(runs):
            flows = {k.removeprefix(FLOWS_PREFIX): sum(v) for r in run.results if r.name == check
                     for k, v in r.metrics.items() if k.startswith(FLOWS_PREFIX)}
            total = sum(flows.values()) or 1.0
            for backend, n in flows.items():
                shares[backend][i] = n / total
        bottom = [0.0] * len(runs)
        for backend, values in sorted(shares.items()):
            ax.bar(range(len(runs)), values, bottom=bottom, label=backend, width=0.7,
                   gid=f"{check}: {backend}")
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
        if shares:
            ax.axhline(1 / len(shares), color="black", linestyle=":", linewidth=1, label="even share")
        ax.set_ylim(0, 1)
        ax.set_ylabel("share of flows")
        ax.set_xticks(range(len(runs)), [_label(r) for r in runs], fontsize=7)
        ax.set_title(f"LB distribution over backends: {check}", fontsize=10)
        ax.legend(fontsize=8, loc="lower right")
    return _save(fig, path)


def metric_trends(runs: Sequence[RunRecord], path: Path, limit: int = 9) -> Plot | None:
    """Small multiples of the other metrics (median per run): failover, RTT..."""
    series: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for i, run in enumerate(runs):
        for r in run.results:
            for metric, samples in r.metrics.items():
                if samples and not metric.startswith(("iops", FLOWS_PREFIX, "host_")) \
                        and not metric.endswith("_target"):  # host_: the rig's load, not a trend
                    series[f"{r.name}: {metric}"].append((i, statistics.median(samples)))
    if not series:
        return None
    names = sorted(series)[:limit]
    cols = min(3, len(names))
    rows = (len(names) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, squeeze=False, figsize=(4.2 * cols, 2.8 * rows))
    for ax, name in zip(axes.flat, names, strict=False):
        pts = series[name]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", color="#00695c", gid=name)
        ax.set_title(name, fontsize=8)
        ax.set_xticks([p[0] for p in pts], [f"#{runs[p[0]].id}" for p in pts], fontsize=7)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    fig.suptitle("Other metrics over time (median of samples)")
    return _save(fig, path)
