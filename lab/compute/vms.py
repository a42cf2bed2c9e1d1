"""The compute library the embedded provider calls: converge VMs to the plan
(lab.compute.converge: diff, then apply), remove them without residue, and
the VIPs the plan's load balancers need on VM backends."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from lab.compute import daemons, libvirt_driver, mirror_converge, paths
from lab.compute.converge import BOOT_TIMEOUT_S, diff_vms, ensure_vms, planned_vms, vm_disks
from lab.compute.daemons import connect
from lab.plan.model import Plan
from lab.plan.naming import mark_for

__all__ = ["BOOT_TIMEOUT_S", "diff_vms", "ensure_vms", "lb_vips", "planned_vms", "remove_vms", "vm_disks"]

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


def lb_vips(plan: Plan) -> dict[str, list[str]]:
    """VM backends of the plan's load balancers -> the VIPs they must hold on
    lo (DSR: the backend answers from the VIP itself)."""
    vips: dict[str, list[str]] = {}
    for mux in plan.muxes:
        for lb in mux.lbs:
            for backend in lb.backends:
                if backend.vm:
                    held = vips.setdefault(backend.vm, [])
                    held += [vip for vip in dict.fromkeys(fe.vip for fe in lb.frontends) if vip not in held]
    return vips


def remove_vms(lab: str, lab_dir: Path, progress: Progress = _quiet) -> list[str]:
    """Destroy and undefine every domain marked for this lab (whatever its
    name), stop its storage daemons, then delete disks, mirror legs, logs,
    sockets and leases. Safe after a crash."""
    removed: list[str] = []
    if not paths.compute_dir(lab_dir).exists() and not daemons.libvirt_answers():
        return removed  # nothing was ever created: disks come before domains
    conn = connect()
    try:
        for dom, _meta in libvirt_driver.lab_domains(conn, mark_for(lab)):
            progress(f"VMs: removing {dom.name()}")
            libvirt_driver.remove_domain(dom)
            removed.append(f"domain {dom.name()}")
    finally:
        conn.close()
    removed += mirror_converge.remove_storage(lab, lab_dir)  # no VM uses the mirrors any more
    cdir = paths.compute_dir(lab_dir)
    if cdir.exists():
        removed += [f"disk {p}" for p in sorted(cdir.rglob("*.qcow2*"))]
        shutil.rmtree(cdir)
    return removed
