"""Two labs on one machine: brought up at the same time, each with namespaces,
an XDP load balancer (BPF pins), FRR on its ToR and MUX, a probe daemon and a
BMC emulator. A second `up` of a lab is refused while its first runs;
`lab down` of one leaves every object of the other as it was (the same
namespaces, pins and daemon pids) and the other's checks still hold.

The refused `up` is made deterministic by stopping (SIGSTOP) the first `up`
once it holds the lab's lock and has created namespaces, and continuing it
afterwards: the first is mid-run however fast or slow the host is.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lab.apply.netns import list_namespaces
from lab.lb.loader import pin_root

from .conftest import LB_TOOLS, require
from .residue import ROOT, lab_cli, lab_processes, residue

pytestmark = pytest.mark.root

TOPOLOGY = """name: {name}
underlay: {{subnet: 198.18.{net}.0/24}}
external: {{subnet: 203.0.113.0/24, vip_pool: 192.0.2.0/24}}
servers: [{{name: hv1, role: compute}}, {{name: hv2, role: compute}}, {{name: mux1, role: mux}}]
tenants: [{{name: red, vni: 10{net}, subnets: [{{name: web, prefix: 100.64.{net}.0/24}}]}}]
vms:
  - {{name: web1, tenant: red, subnet: web, server: hv1, kind: netns}}
  - {{name: web2, tenant: red, subnet: web, server: hv2, kind: netns}}
load_balancers:
  - name: web
    tenant: red
    frontends: [{{vip: 192.0.2.{net}, port: 80, protocol: tcp}}]
    backends: [web1, web2]
    probe: {{protocol: tcp, port: 80, interval_s: 0.5, threshold: 2}}
"""
LABS = {"conca": 74, "concb": 75}


def _snapshot(lab: str) -> dict[str, list[str]]:
    """The lab's objects, by what identifies each (a restarted daemon has another pid)."""
    pins = sorted(str(p.relative_to(pin_root(lab))) for p in pin_root(lab).rglob("*"))
    return {"namespaces": sorted(ns for ns in list_namespaces() if ns.startswith(f"{lab}.")),
            "pins": pins, "processes": sorted(lab_processes(lab))}


def _wait_namespaces(lab: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not any(ns.startswith(f"{lab}.") for ns in list_namespaces()):
        assert proc.poll() is None and time.monotonic() < deadline, "up ended before creating anything"
        time.sleep(0.01)


def _no_failed_checks(path: Path) -> list[str]:
    proc = lab_cli("verify", str(path), "--only", "fabric", "--only", "lb", "--format", "json",
                   check=False, timeout=900)
    report = json.loads(proc.stdout)
    bad = [f"{r['name']}: {r['verdict']}: {r['measured']}" for r in report["checks"]
           if r["verdict"] not in ("pass", "skipped", "inconclusive")]
    assert proc.returncode in (0, 4), proc.stderr
    print("\n".join(f"{r['name']}: {r['verdict']} ({r['duration_s']:.1f} s): {r['measured']}"
                    for r in report["checks"]))
    return bad


def test_two_labs_up_at_once_down_of_one_leaves_the_other_whole(tmp_path):
    require(*LB_TOOLS)
    paths = {}
    for lab, net in LABS.items():
        paths[lab] = tmp_path / f"{lab}.yaml"
        paths[lab].write_text(TOPOLOGY.format(name=lab, net=net))
    ups = {lab: subprocess.Popen([sys.executable, "-m", "lab", "up", str(path)], cwd=ROOT,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
           for lab, path in paths.items()}
    try:
        first = ups["conca"]
        _wait_namespaces("conca", first)
        os.kill(first.pid, signal.SIGSTOP)  # mid-up, holding conca's lock
        try:
            second = lab_cli("up", str(paths["conca"]), check=False)
        finally:
            os.kill(first.pid, signal.SIGCONT)
        assert second.returncode == 4 and "busy" in second.stderr, second.stdout + second.stderr
        for lab, proc in ups.items():
            out, err = proc.communicate(timeout=600)
            assert proc.returncode == 0, f"lab up {lab}: {out}{err}"
        for lab in LABS:
            status = json.loads(lab_cli("status", "--lab", lab, "--format", "json").stdout)
            assert status["state"] == "up", status
        before = _snapshot("concb")
        assert before["pins"] and before["processes"] and before["namespaces"], before
        lab_cli("down", "--lab", "conca")
        assert residue("conca") == []
        assert _snapshot("concb") == before  # nothing of concb was touched ...
        assert _no_failed_checks(paths["concb"]) == []  # ... and it still works
        assert _snapshot("concb") == before
    finally:
        for lab, proc in ups.items():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            lab_cli("down", "--lab", lab, check=False)
    assert residue("conca") == [] and residue("concb") == []
