"""The storage group of `lab verify`: every capped data disk measured with
fio inside its VM against its hypervisor cap, and every uncapped control."""

from __future__ import annotations

from functools import partial

from lab.paths import lab_dir
from lab.plan.model import Plan
from lab.verify.runner import Check, named_check
from lab.verify.storage.iops import check_plan_disks


def verify_checks(plan: Plan) -> list[Check]:
    if not any(e.kind == "vm" and e.data_disks for e in plan.endpoints):
        return []
    return [named_check("storage.all_disks.iops", "storage",
                        partial(check_plan_disks, plan, lab_dir(plan.lab), plan.specs.iops_tolerance_pct))]
