"""`kill -9` of `lab up` at 20 reproducible points (tests/robust/crash_points.py),
then `lab down --lab NAME` with the topology file gone: nothing of the lab
may be left (tests/robust/residue.py), every time.

Two labs keep it inside CI's time: `crashv` has a VM, a namespace endpoint
and an LB (so `up` also starts FRR on the ToR and the MUX, the probe daemon
and the BMC emulator) and takes the points during VM boot; `crashl` is the
same without the VM and takes the rest, among them two while bpftool loads
the XDP program. STACKLAB_CRASH_SEED picks other points (default 17).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from lab.model import load_topology
from lab.plan.planner import build_plan

from .conftest import VM_TOOLS, require
from .crash_points import BOOT_MARKERS, choose, kill_at, markers, read_trace, start_up
from .residue import lab_cli, residue

pytestmark = [pytest.mark.root, pytest.mark.slow]

SEED = int(os.environ.get("STACKLAB_CRASH_SEED", "17"))
LABS = {"heavy": "crashv", "light": "crashl"}
VM = "  - {name: vm1, tenant: red, subnet: web, server: hv1, kind: vm, size: Standard_A0}\n"
TOPOLOGY = """name: {name}
underlay: {{subnet: 198.18.{net}.0/24}}
external: {{subnet: 203.0.113.0/24, vip_pool: 192.0.2.0/24}}
servers:
  - {{name: hv1, role: compute}}
  - {{name: mux1, role: mux}}
tenants:
  - {{name: red, vni: 10{net}, subnets: [{{name: web, prefix: 100.64.{net}.0/24}}]}}
vms:
  - {{name: web1, tenant: red, subnet: web, server: hv1, kind: netns}}
{vm}load_balancers:
  - name: web
    tenant: red
    frontends: [{{vip: 192.0.2.{net}, port: 80, protocol: tcp}}]
    backends: [{backends}]
    probe: {{protocol: tcp, port: 80, interval_s: 1.0, threshold: 2}}
"""


def _write(tmp_path: Path, kind: str) -> Path:
    heavy = kind == "heavy"
    text = TOPOLOGY.format(name=LABS[kind], net=71 if heavy else 72, vm=VM if heavy else "",
                           backends="web1, vm1" if heavy else "web1")
    path = tmp_path / f"{LABS[kind]}.yaml"
    path.write_text(text)
    return path


def _taps(path: Path) -> list[str]:
    return [e.port for e in build_plan(load_topology(path)).endpoints if e.kind == "vm"]


def _calibrate(tmp_path: Path, kind: str) -> tuple[list, float]:
    """A whole `up` with markers, then `down`: the markers, and the plain path leaves nothing too."""
    path, trace = _write(tmp_path, kind), tmp_path / f"{kind}.trace"
    started = time.monotonic()
    proc = start_up(path, trace, tmp_path / f"{kind}-up.log")
    assert proc.wait(timeout=600) == 0, (tmp_path / f"{kind}-up.log").read_text()[-3000:]
    seconds = time.monotonic() - started
    lab_cli("down", "--lab", LABS[kind])
    assert residue(LABS[kind], _taps(path)) == []
    return markers(read_trace(trace)), seconds


def test_kill_9_of_up_at_20_points_then_down_without_the_file_leaves_nothing(tmp_path):
    require(*VM_TOOLS, "vtysh")
    t0 = time.monotonic()
    heavy, heavy_s = _calibrate(tmp_path, "heavy")
    light, light_s = _calibrate(tmp_path, "light")
    lines = [f"seed {SEED}; full up: {LABS['heavy']} {heavy_s:.1f} s, {LABS['light']} {light_s:.1f} s"]
    failures = []
    for n, point in enumerate(choose(SEED, heavy, light), 1):
        lab, started = LABS[point.topology], time.monotonic()
        path = _write(tmp_path, point.topology)
        taps = _taps(path)
        trace, log = tmp_path / f"point{n}.trace", tmp_path / f"point{n}-up.log"
        outcome = kill_at(point, start_up(path, trace, log), trace)
        seen = read_trace(trace)
        # a point during VM boot must have landed there: after a boot marker, before the next phase
        off_target = point.why == "vm-boot" and not (seen and seen[-1][1].startswith(BOOT_MARKERS))
        left = residue(lab, taps)  # what the crash left for down to find
        path.unlink()  # down works from the journal and the marks alone
        down = lab_cli("down", "--lab", lab, check=False)
        after = residue(lab, taps)
        lines.append(f"{n:2} {point.label()}: {outcome}{' (not during boot)' if off_target else ''}; "
                     f"{len(left)} objects left, down exit "
                     f"{down.returncode}, residue {after or 'none'} ({time.monotonic() - started:.1f} s)")
        # killed before it made anything (not even its lock): down rightly finds no lab
        down_ok = down.returncode == 0 or (not left and down.returncode == 4 and f"no lab {lab}" in down.stderr)
        if outcome.startswith("missed") or off_target or not down_ok or after:
            failures.append(f"{lines[-1]}\n{down.stdout}{down.stderr}\n{log.read_text()[-1500:]}")
            if after:  # leave the next point a clean machine
                lab_cli("down", "--lab", lab, check=False)
    lines.append(f"total {time.monotonic() - t0:.0f} s")
    print("\n".join(lines))
    assert not failures, "\n\n".join(failures)
