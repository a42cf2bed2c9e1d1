"""A `lab up` killed mid-create leaves a running domain and disks; remove_vms
must find them by the lab's mark and leave nothing behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from pyroute2 import IPRoute

from lab.compute import vms
from lab.compute.daemons import connect
from lab.compute.libvirt_driver import lab_domains
from lab.compute.paths import compute_dir, default_lab_dir
from lab.model.topology import Topology
from lab.plan.naming import mark_for
from lab.plan.planner import build_plan

pytestmark = [pytest.mark.root, pytest.mark.slow]

TOPOLOGY = {
    "name": "cptx",
    "servers": [{"name": "hv1"}],
    "tenants": [{"name": "red", "vni": 1009, "subnets": [{"name": "web", "prefix": "100.64.9.0/24"}]}],
    "vms": [{"name": "cptx-1", "tenant": "red", "server": "hv1", "size": "Standard_A1",
             "data_disks": [{"name": "d1", "size_gb": 1}]},
            {"name": "cptx-2", "tenant": "red", "server": "hv1", "size": "Standard_A0"}],
}

CHILD = """
import json, os, signal, sys
from pathlib import Path
from lab.compute import vms
from lab.model.topology import Topology
from lab.plan.planner import build_plan

plan = build_plan(Topology.model_validate(json.loads(sys.argv[1])))

def record(kind, name, detail=""):
    if sys.argv[3] == "define" and kind == "domain" and name.endswith("cptx-2"):
        os.kill(os.getpid(), signal.SIGKILL)  # first VM defined, second only has a disk

def progress(step):
    if sys.argv[3] == "start" and "plugging" in step:
        os.kill(os.getpid(), signal.SIGKILL)  # both VMs running, taps not yet plugged

vms.ensure_vms(plan, Path(sys.argv[2]), record, progress)
"""


def _root_has_link(name: str) -> bool:
    with IPRoute() as ipr:
        return bool(ipr.link_lookup(ifname=name))


@pytest.mark.parametrize(("crash_at", "domains_left"), [
    ("define", ["cptx.cptx-1"]),
    ("start", ["cptx.cptx-1", "cptx.cptx-2"]),
])
def test_remove_after_crash_mid_create_leaves_no_domain_disk_or_tap(vm_host, crash_at,
                                                                     domains_left):
    plan = build_plan(Topology.model_validate(TOPOLOGY))
    lab_dir = default_lab_dir(plan.lab)
    child = subprocess.run([sys.executable, "-c", CHILD, json.dumps(TOPOLOGY), str(lab_dir),
                            crash_at],
                           check=False, capture_output=True, text=True, timeout=180,
                           env=os.environ.copy())
    try:
        assert child.returncode == -9, child.stderr
        conn = connect()
        try:
            left = sorted((d.name(), bool(d.isActive()))
                          for d, _ in lab_domains(conn, mark_for(plan.lab)))
        finally:
            conn.close()
        # the crash really left residue behind (running domains in the "start" case)
        assert left == [(name, crash_at == "start") for name in domains_left]
        assert sorted(p.name for p in compute_dir(lab_dir).rglob("*.qcow2")) == [
            "data-d1.qcow2", "os.qcow2", "os.qcow2"]
    finally:
        removed = vms.remove_vms(plan.lab, lab_dir)
    assert sorted(r for r in removed if r.startswith("domain")) == [f"domain {d}" for d in domains_left]
    conn = connect()
    try:
        assert lab_domains(conn, mark_for(plan.lab)) == []
    finally:
        conn.close()
    assert not compute_dir(lab_dir).exists()
    assert not any(_root_has_link(e.port) for e in plan.endpoints)
