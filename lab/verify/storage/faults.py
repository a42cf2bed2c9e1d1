"""Storage faults for `lab fault inject`: a disk's hypervisor IOPS cap
removed or raised live (what the storage check must catch)."""

from __future__ import annotations

from lab.compute.operations import set_disk_cap
from lab.plan.model import Plan


def _capped_disk(plan: Plan, server: str | None) -> tuple[str, str, int]:
    for e in plan.endpoints:
        if e.kind == "vm" and (server is None or e.server == server):
            for d in e.data_disks:
                if d.iops_cap:
                    return e.name, d.name, d.iops_cap
    raise TypeError("no VM with a capped data disk" + (f" on {server}" if server else ""))


def cap_removed(plan: Plan, server: str | None = None, **_: str) -> str:
    """Remove the hypervisor IOPS cap of the first capped data disk, live."""
    vm, disk, cap = _capped_disk(plan, server)
    set_disk_cap(plan.lab, vm, disk, None)
    return f"IOPS cap of {vm}/{disk} removed (was {cap})"


def cap_raised(plan: Plan, server: str | None = None, **_: str) -> str:
    """Double the hypervisor IOPS cap of the first capped data disk, live."""
    vm, disk, cap = _capped_disk(plan, server)
    set_disk_cap(plan.lab, vm, disk, 2 * cap)
    return f"IOPS cap of {vm}/{disk} raised from {cap} to {2 * cap}"


def clear(plan: Plan) -> list[str]:
    """Every data disk back to the cap its tier gives (None = uncapped)."""
    repaired = []
    for e in plan.endpoints:
        if e.kind != "vm":
            continue
        for d in e.data_disks:
            set_disk_cap(plan.lab, e.name, d.name, d.iops_cap)
            repaired.append(f"{e.name}/{d.name} cap {d.iops_cap or 'none'}")
    return repaired


FAULTS = {"cap-removed": cap_removed, "cap-raised": cap_raised}
