"""Where to kill `lab up`, chosen reproducibly, and how to land there.

A calibration run of `up` (tests/robust/traced_lab.py) gives the markers of
each topology: progress phases and journal records, with their times. A
random.Random(seed) then picks each kill point as a marker and a fraction of
the gap to the next one (0: right at the boundary), or as "while a given
child program runs" (bpftool loading the XDP program). The same seed picks
the same points; the markers, not wall time, say where a point is, so a slow
host shifts the kill with the phase.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .residue import ROOT

TRACED = Path(__file__).with_name("traced_lab.py")
Marker = tuple[str, int]  # label, occurrence (1-based)


@dataclass(frozen=True)
class KillPoint:
    topology: str  # which lab (heavy: with a VM; light: none)
    why: str  # "vm-boot", "bpf-load", "any"
    marker: Marker | None  # kill after this marker ...
    delay_s: float = 0.0  # ... and this long after it
    child: str | None = None  # or while a child program of `up` with this name runs

    def label(self) -> str:
        where = f"child {self.child}" if self.child else f"{self.marker[0]!r} #{self.marker[1]} + {self.delay_s:.2f} s"
        return f"{self.topology}/{self.why}: {where}"


def read_trace(path: Path) -> list[tuple[float, str]]:
    out = []
    for line in path.read_text().splitlines() if path.exists() else []:
        stamp, _, label = line.partition(" ")
        try:
            out.append((float(stamp), label))
        except ValueError:
            continue  # a torn last line
    return out


# how long a guest takes decides whether these come at all: never a kill point
# (the wait they report is part of the gap after "waiting for")
UNSTEADY = "still booting"
MAX_DELAY_S = 2.5
BOOT_MARKERS = ("phase VMs:", "journal domain")  # the last marker before a kill during boot

def markers(trace: list[tuple[float, str]]) -> list[tuple[Marker, float]]:
    """Each steady marker with its occurrence number and the gap to the next one."""
    trace = [(t, label) for t, label in trace if UNSTEADY not in label]
    seen: dict[str, int] = {}
    out = []
    for i, (t, label) in enumerate(trace[:-1]):
        seen[label] = seen.get(label, 0) + 1
        out.append(((label, seen[label]), trace[i + 1][0] - t))
    return out


def _at(rng: random.Random, topology: str, why: str, choices: list[tuple[Marker, float]],
        boundary: float = 0.3) -> KillPoint:
    """A marker, and a fraction of the gap after it: 0 (the boundary itself)
    with probability `boundary`, else inside the phase."""
    marker, gap = rng.choice(choices)
    fraction = 0.0 if rng.random() < boundary else rng.uniform(0.05, 0.95)
    return KillPoint(topology, why, marker, round(fraction * gap, 3))


def _bounded(found: list[tuple[Marker, float]]) -> list[tuple[Marker, float]]:
    """Long phases (a VM's boot, the wait for BGP) last as long as the host's
    load makes them, so a delay scaled to the calibration run could overshoot
    the end of `up`: a kill lands within the first MAX_DELAY_S of a phase. A
    TCG guest of this image needs ~3 s to boot even on an idle host
    (ENVIRONMENT.md), so those seconds after "waiting for" are always mid-boot."""
    return [(m, min(gap, MAX_DELAY_S)) for m, gap in found]


def choose(seed: int, heavy: list[tuple[Marker, float]], light: list[tuple[Marker, float]]) -> list[KillPoint]:
    """20 points: 3 during VM boot and 1 anywhere in the VM lab; 2 while
    bpftool loads the XDP program, 2 just after the LB's pin is journaled,
    12 at distinct markers (boundaries included) in the lighter lab."""
    rng = random.Random(seed)
    heavy, light = _bounded(heavy), _bounded(light)
    # defined and started (after "journal domain"), guest booting (after "waiting for")
    boot = [m for m in heavy if m[0][0].startswith(("phase VMs: waiting for", "journal domain"))]
    pin = [m for m in light if m[0][0].startswith("journal bpf-pin")]
    assert boot and pin, f"calibration saw no VM boot or BPF pin: {heavy} {light}"
    points = [_at(rng, "heavy", "vm-boot", boot, boundary=0) for _ in range(3)] + [_at(rng, "heavy", "any", heavy)]
    points += [KillPoint("light", "bpf-load", None, child="bpftool") for _ in range(2)]
    points += [_at(rng, "light", "bpf-load", pin) for _ in range(2)]
    points += [_at(rng, "light", "any", [m]) for m in rng.sample(light, min(12, len(light)))]  # 12 distinct
    return points


def _child_running(parent: int, name: str) -> bool:
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            comm = (proc / "comm").read_text().strip()
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if comm == name and ppid == parent:
            return True
    return False


def start_up(topology: Path, trace: Path, log: Path) -> subprocess.Popen:
    trace.unlink(missing_ok=True)
    with open(log, "wb") as out:
        return subprocess.Popen([sys.executable, str(TRACED), "up", str(topology)], cwd=ROOT,
                                stdout=out, stderr=subprocess.STDOUT,
                                env=os.environ | {"CRASH_TRACE": str(trace)})


def kill_at(point: KillPoint, proc: subprocess.Popen, trace: Path, timeout_s: float = 300) -> str:
    """Wait for the point, SIGKILL `up` there; the last marker seen (or why it missed)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        seen = read_trace(trace)
        if point.child is not None:
            if _child_running(proc.pid, point.child):
                break
        elif sum(1 for _, label in seen if label == point.marker[0]) >= point.marker[1]:
            time.sleep(point.delay_s)
            break
        time.sleep(0.005)
    if proc.poll() is not None:
        return f"missed: up ended first (exit {proc.returncode})"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    seen = read_trace(trace)
    return f"killed after {seen[-1][1]!r}" if seen else "killed before the first marker"
