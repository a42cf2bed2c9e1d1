"""The storage group of `lab verify`: every mirrored disk's copies and its
survival of server losses (lab.verify.storage.mirror, .server_loss), then
every capped data disk measured with fio inside its VM against its
hypervisor cap, and every uncapped control (a mirrored disk keeps its cap)."""

from __future__ import annotations

from functools import partial

from lab.paths import lab_dir
from lab.plan.model import Plan
from lab.verify.runner import Check, named_check
from lab.verify.storage.iops import check_plan_disks
from lab.verify.storage.mirror import check_mirror, target_of
from lab.verify.storage.server_loss import check_server_loss


def verify_checks(plan: Plan) -> list[Check]:
    if not any(e.data_disks for e in plan.vms()):
        return []
    where = lab_dir(plan.lab)
    checks: list[Check] = []
    for vm in plan.vms():
        for disk in (d for d in vm.data_disks if d.resiliency == "mirror3"):
            name, target = f"storage.{vm.name}/{disk.name}", target_of(vm, disk)
            checks += [named_check(f"{name}.mirror", "storage", partial(check_mirror, plan, where, vm, disk), target),
                       named_check(f"{name}.survives_server_loss", "storage",
                                   partial(check_server_loss, plan, where, vm, disk), target)]
    return checks + [named_check("storage.all_disks.iops", "storage",
                                 partial(check_plan_disks, plan, where, plan.specs.iops_tolerance_pct))]
