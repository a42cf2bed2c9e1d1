"""How busy the host was while something was measured, from the kernel's PSI.

A measurement on an emulated (TCG) guest is only as fast as the host lets its
vCPU run. /proc/pressure/{cpu,io} count, in microseconds, how long at least
one task waited for a CPU or for I/O ("some"); the share of a measurement's
wall time spent so is what the host took away from it. This is read as a
difference of the cumulative `total=` counters over the window, not as the
kernel's 10-second averages, so it covers exactly the measurement. Without
PSI (a kernel built without it, or booted with psi=0) the 1-minute load
average per CPU stands in.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

PRESSURE = Path("/proc/pressure")
# A share of the window in which some task waited: above it the host, not the
# thing measured, may have set the pace.
BUSY_PCT = 20.0
BUSY_LOAD_PER_CPU = 1.0


@dataclass(frozen=True)
class HostLoad:
    """Host pressure over one window; None where the kernel does not tell."""

    window_s: float
    cpu_pct: float | None = None
    io_pct: float | None = None
    load_per_cpu: float | None = None  # only when PSI is missing
    busy_pct: float = BUSY_PCT

    @property
    def busy(self) -> bool:
        psi = [p for p in (self.cpu_pct, self.io_pct) if p is not None]
        if psi:
            return max(psi) >= self.busy_pct
        return self.load_per_cpu is not None and self.load_per_cpu >= BUSY_LOAD_PER_CPU

    def describe(self) -> str:
        """One line for a check's `measured` text: the numbers and what they mean."""
        if self.cpu_pct is None and self.io_pct is None:
            if self.load_per_cpu is None:
                return "host load unknown (no PSI, no load average)"
            return f"host load {self.load_per_cpu:.1f} per CPU over the last minute (no PSI)"
        parts = [f"{name} pressure {pct:.0f}%" for name, pct in
                 (("CPU", self.cpu_pct), ("I/O", self.io_pct)) if pct is not None]
        return (f"host {' and '.join(parts)} of the {self.window_s:.0f} s measured "
                f"(share of time some task waited; busy from {self.busy_pct:g}%)")

    def to_metrics(self) -> dict[str, list[float]]:
        """For the history (`lab report` can plot it beside the IOPS)."""
        values = {"host_cpu_pressure_pct": self.cpu_pct, "host_io_pressure_pct": self.io_pct,
                  "host_load_per_cpu": self.load_per_cpu, "host_window_s": self.window_s}
        return {k: [round(v, 2)] for k, v in values.items() if v is not None}

    @classmethod
    def from_metrics(cls, metrics: dict[str, list[float]]) -> HostLoad | None:
        """The host load a check recorded with to_metrics(); None if it recorded none
        (`lab regress` does not compare timings taken on a busy host)."""
        def first(key: str) -> float | None:
            return metrics[key][0] if metrics.get(key) else None
        values = {k: first(f"host_{k}") for k in ("cpu_pressure_pct", "io_pressure_pct", "load_per_cpu")}
        if all(v is None for v in values.values()):
            return None
        return cls(first("host_window_s") or 0.0, cpu_pct=values["cpu_pressure_pct"],
                   io_pct=values["io_pressure_pct"], load_per_cpu=values["load_per_cpu"])


def _some_total_us(resource: str, root: Path) -> int | None:
    try:
        text = (root / resource).read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("some "):
            fields = dict(part.split("=", 1) for part in line.split()[1:])
            return int(fields["total"])
    return None


@dataclass
class _Window:
    started: float
    totals: dict[str, int | None]
    result: HostLoad | None = field(default=None)


@contextmanager
def measuring(root: Path = PRESSURE) -> Iterator[_Window]:
    """`with measuring() as w: ...` then `w.result` is the HostLoad of the block."""
    window = _Window(time.monotonic(), {r: _some_total_us(r, root) for r in ("cpu", "io")})
    try:
        yield window
    finally:
        window.result = _finish(window, root)


def _finish(window: _Window, root: Path) -> HostLoad:
    elapsed = max(time.monotonic() - window.started, 1e-6)
    pct: dict[str, float | None] = {}
    for resource, before in window.totals.items():
        after = _some_total_us(resource, root)
        pct[resource] = (None if before is None or after is None
                         else min(100.0, 100.0 * (after - before) / 1e6 / elapsed))
    if pct["cpu"] is None and pct["io"] is None:
        try:
            load = os.getloadavg()[0] / (os.cpu_count() or 1)
        except OSError:
            load = None
        return HostLoad(round(elapsed, 1), load_per_cpu=load)
    return HostLoad(round(elapsed, 1), cpu_pct=pct["cpu"], io_pct=pct["io"])


class BootBudget:
    """A deadline in the time a guest could run, not in wall time.

    A TCG guest boots only while the host gives its vCPU a core. The budget
    is `budget_s` of uncontended time: wall time less the share of it in
    which some task waited for a CPU (PSI), so on a busy host the wait
    stretches, up to `cap` times the budget in wall time (a guest that is
    stuck, not slow, still fails). Without PSI it is plain wall time.
    """

    def __init__(self, budget_s: float, cap: float = 3.0, root: Path = PRESSURE):
        self.budget_s, self.cap, self.root = budget_s, cap, root
        self.started = time.monotonic()
        self.cpu0 = _some_total_us("cpu", root)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def usable(self) -> float:
        """Seconds the guests could have run so far."""
        wall = self.elapsed()
        now = _some_total_us("cpu", self.root)
        if self.cpu0 is None or now is None:
            return wall
        waited = min(wall, (now - self.cpu0) / 1e6)
        return wall - waited

    def spent(self) -> bool:
        return self.usable() >= self.budget_s or self.elapsed() >= self.cap * self.budget_s

    def describe(self) -> str:
        return (f"waited {self.elapsed():.0f} s wall, {self.usable():.0f} s of it with the CPU free "
                f"(budget {self.budget_s:.0f} s free, at most {self.cap * self.budget_s:.0f} s wall)")
