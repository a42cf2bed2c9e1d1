"""`lab bench vms`: how long N VMs take from nothing to an answering agent,
and what each costs in host memory (RSS of its QEMU process).

Runs in a throwaway lab of its own (namespace vmbench.hv1, one tenant bridge),
so it never touches a user's lab; image build and the KVM probe happen before
the clock starts (both are cached after the first run).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from lab.compute import testbed, vms
from lab.compute.daemons import connect
from lab.compute.domain_xml import domain_name
from lab.compute.image import build_image
from lab.compute.libvirt_driver import domain_type
from lab.model.topology import Topology
from lab.plan.model import Plan
from lab.plan.planner import build_plan

BENCH_LAB = "vmbench"
MAX_COUNT = 16
QEMU_PID_DIR = Path("/run/libvirt/qemu")


def bench_plan(count: int) -> Plan:
    topo = Topology.model_validate({
        "name": BENCH_LAB,
        "servers": [{"name": "hv1"}],
        "tenants": [{"name": "bench", "vni": 4001,
                     "subnets": [{"name": "web", "prefix": "100.64.40.0/24"}]}],
        "vms": [{"name": f"bvm{i}", "tenant": "bench", "server": "hv1", "size": "Standard_A0"}
                for i in range(count)],
    })
    return build_plan(topo)


def _rss_mib(domain: str) -> float:
    pid = (QEMU_PID_DIR / f"{domain}.pid").read_text().strip()
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def bench_vms(count: int) -> dict:
    if not 1 <= count <= MAX_COUNT:
        raise ValueError(f"--count must be 1..{MAX_COUNT} (got {count})")
    plan = bench_plan(count)
    image = build_image()
    conn = connect()
    try:
        dtype = domain_type(conn, image)
    finally:
        conn.close()
    lab_dir = Path(tempfile.mkdtemp(prefix="stacklab-vmbench."))
    try:
        with testbed.testbed(plan, lab_dir):
            start = time.monotonic()
            vms.ensure_vms(plan, lab_dir, lambda *_: None)
            up_s = time.monotonic() - start
            rss = [_rss_mib(domain_name(plan.lab, vm.name)) for vm in vms.planned_vms(plan)]
    finally:
        shutil.rmtree(lab_dir, ignore_errors=True)
    return {"count": count, "up_s": round(up_s, 2),
            "rss_mib_per_vm": round(sum(rss) / len(rss), 1), "domain_type": dtype}
