"""Storage faults for `lab fault inject`: a disk's hypervisor IOPS cap
removed or raised live (storage.all_disks.iops must catch it), a mirror leg's server
lost (leg-down) or one copy silently corrupted (leg-corrupt), which the
mirror checks must catch; `lab fault clear` restarts a lost server through
`lab up` (with its resync) and scrubs every mirror here."""

from __future__ import annotations

from pathlib import Path

from lab.compute import mirror, mirror_io, mirror_scrub
from lab.compute.operations import set_disk_cap
from lab.paths import lab_dir
from lab.plan.model import DiskPlan, EndpointPlan, MirrorLegPlan, Plan
from lab.verify.storage.mirror import MARKER_MIB, MIB

CORRUPT_OFFSET = MARKER_MIB * MIB + 4096  # inside the .mirror check's marker region
CORRUPT_BYTES = 64


def _capped_disk(plan: Plan, server: str | None) -> tuple[str, str, int]:
    for e in plan.vms(server):
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


def _leg(plan: Plan, server: str | None) -> tuple[EndpointPlan, DiskPlan, MirrorLegPlan]:
    """The first mirrored disk's second leg (its VM's own server keeps the
    first), or its leg on `server`."""
    for vm, disk in mirror.mirrored(plan):
        for leg in disk.legs[1:] if server is None else disk.legs:
            if server is None or leg.server == server:
                return vm, disk, leg
    raise TypeError("no mirrored disk (resiliency: mirror3)" + (f" with a leg on {server}" if server else ""))


def leg_down(plan: Plan, server: str | None = None, **_: str) -> str:
    """Kill the storage daemon of a mirror leg's server (a server lost): its legs are gone."""
    vm, disk, leg = _leg(plan, server)
    if not mirror.stop_server(lab_dir(plan.lab), leg.server):
        raise TypeError(f"the storage daemon of {leg.server} is not running")
    return f"storage daemon of {leg.server} killed: {vm.name}/{disk.name} runs on two of its three legs"


def leg_corrupt(plan: Plan, server: str | None = None, **_: str) -> str:
    """Flip bytes on one leg of a mirrored disk behind the quorum's back (silent corruption)."""
    vm, disk, leg = _leg(plan, server)
    mirror_io.flip_bytes(Path(lab_dir(plan.lab)) / leg.path, CORRUPT_OFFSET, CORRUPT_BYTES)
    return (f"{CORRUPT_BYTES} bytes inverted at {CORRUPT_OFFSET} on the leg of {vm.name}/{disk.name} "
            f"on {leg.server} ({leg.path})")


def clear(plan: Plan) -> list[str]:
    """Every data disk back to the cap its tier gives (None = uncapped), and
    every running mirror scrubbed until its legs agree (an out-voted copy is rewritten)."""
    repaired = []
    for vm, disk in mirror.mirrored(plan):
        if mirror.quorum_running(lab_dir(plan.lab), disk):
            try:
                seconds = mirror_scrub.resync(lab_dir(plan.lab), disk).seconds
                repaired.append(f"{vm.name}/{disk.name} scrubbed in {seconds:.1f} s")
            except mirror_scrub.ScrubError as exc:
                repaired.append(f"{vm.name}/{disk.name} NOT repaired: {exc}")
    for e in plan.vms():
        for d in e.data_disks:
            set_disk_cap(plan.lab, e.name, d.name, d.iops_cap)
            repaired.append(f"{e.name}/{d.name} cap {d.iops_cap or 'none'}")
    return repaired


FAULTS = {"cap-removed": cap_removed, "cap-raised": cap_raised, "leg-down": leg_down, "leg-corrupt": leg_corrupt}
