"""Hypervisor IOPS caps measured by fio in the guest, and the check's verdicts."""

from __future__ import annotations

import pytest

from lab.compute import operations
from lab.verify.storage import iops as iops_check

pytestmark = [pytest.mark.root, pytest.mark.slow]
RUNTIME_S = 5


def _check(plan, lab_dir, disk, dev, cap):
    [result] = iops_check.check_disk_iops(plan.lab, lab_dir, "cpt-a", disk, dev, cap,
                                          runtime_s=RUNTIME_S)
    return result


def test_capped_disk_within_tolerance_and_uncapped_control_far_above(booted):
    plan, lab_dir, _ = booted
    capped, control = iops_check.check_plan_disks(plan, lab_dir, 5.0, runtime_s=RUNTIME_S)
    assert capped.target == "cpt-a/std (/dev/vdb)" and capped.verdict == "pass", capped.measured
    assert control.target == "cpt-a/prem (/dev/vdc)"
    assert (capped.name, control.name) == ("storage.cpt-a/std.randread", "storage.cpt-a/prem.randread.control")
    assert capped.metrics["iops_target"] == [500.0] and len(capped.metrics["iops"]) >= 3
    assert control.verdict == "pass", control.measured  # >= 2 x 500
    assert control.metrics["steady_iops"][0] >= 2 * capped.metrics["steady_iops"][0]


def test_check_fails_when_cap_is_raised_or_removed_live(booted):
    plan, lab_dir, _ = booted
    try:
        operations.set_disk_cap(plan.lab, "cpt-a", "std", 1000)  # fault: cap raised live
        raised = _check(plan, lab_dir, "std", "vdb", 500)
        assert raised.verdict == "fail", raised.measured
        assert raised.metrics["steady_iops"][0] > 525
        operations.set_disk_cap(plan.lab, "cpt-a", "std", None)  # fault: cap removed live
        removed = _check(plan, lab_dir, "std", "vdb", 500)
        assert removed.verdict == "fail", removed.measured
    finally:
        operations.set_disk_cap(plan.lab, "cpt-a", "std", 500)
