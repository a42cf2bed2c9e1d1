"""Compute's part of the embedded provider's lifecycle (see lab.providers.hooks):
VMs and the storage daemons of their mirrored disks come up after the fabric
(taps join the tenant bridges, legs are served on the underlay) and go down
before it (a daemon left in a namespace would keep it alive)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lab.apply.changes import Change
from lab.apply.journal import Journal
from lab.compute import mirror_status, vms
from lab.compute import status as vm_state
from lab.compute.paths import default_lab_dir
from lab.plan.model import Plan

Progress = Callable[[str], None]


def up(plan: Plan, journal: Journal, progress: Progress) -> list[Change]:
    return vms.ensure_vms(plan, default_lab_dir(plan.lab), journal.record, progress,
                          vips=vms.lb_vips(plan))


def diff(plan: Plan) -> list[Change]:
    """Exactly the changes `up` would apply (lab.compute.converge)."""
    return vms.diff_vms(plan, default_lab_dir(plan.lab), vips=vms.lb_vips(plan))


def down(lab: str, progress: Progress) -> list[str]:
    return vms.remove_vms(lab, default_lab_dir(lab), progress)


def status(lab: str) -> dict[str, Any]:
    lab_dir = default_lab_dir(lab)
    if not (lab_dir / "compute").exists():
        return {"vms": []}
    daemons = mirror_status.daemons_status(lab_dir)
    return {"vms": vm_state.vm_status(lab, lab_dir), **({"storage_daemons": daemons} if daemons else {})}
