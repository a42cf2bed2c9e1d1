"""Hypervisor IOPS caps measured by fio in the guest, and the check's verdicts.

These run on shared CI cores: a verdict may be `inconclusive` when the host
was too busy to judge, but only when the check says so and its own pressure
measurement bears it out. A cap that is too high or missing fails regardless.
"""

from __future__ import annotations

import pytest

from lab.compute import operations
from lab.compute.host_load import BUSY_PCT
from lab.verify.storage import iops as iops_check

pytestmark = [pytest.mark.root, pytest.mark.slow]
RUNTIME_S = 5


def _check(plan, lab_dir, disk, dev, cap):
    [result] = iops_check.check_disk_iops(plan.lab, lab_dir, "cpt-a", disk, dev, cap,
                                          runtime_s=RUNTIME_S)
    return result


def _decisive(plan, lab_dir, disk, dev, cap, attempts: int = 3):
    """A fault must be found, not excused: a guest starved below the cap
    (inconclusive, host busy) is measured again, at most `attempts` times."""
    for _ in range(attempts):
        result = _check(plan, lab_dir, disk, dev, cap)
        if result.verdict != "inconclusive":
            return result
        assert _host_was_busy(result), result.measured  # inconclusive only ever on a busy host
    pytest.fail(f"the host stayed too busy to judge in {attempts} attempts: {result.measured}")


def _host_was_busy(result) -> bool:
    pressure = [result.metrics.get(k, [0.0])[0] for k in ("host_cpu_pressure_pct", "host_io_pressure_pct")]
    return max(pressure) >= BUSY_PCT or result.metrics.get("host_load_per_cpu", [0.0])[0] >= 1.0


def _pass_or_says_why(result, why: str) -> None:
    assert result.verdict in ("pass", "inconclusive"), result.measured
    if result.verdict == "inconclusive":
        assert f"inconclusive: {why}" in result.measured, result.measured


def test_capped_disk_within_tolerance_and_uncapped_control_far_above(booted):
    plan, lab_dir, _ = booted
    capped, control = iops_check.check_plan_disks(plan, lab_dir, 5.0, runtime_s=RUNTIME_S)
    assert capped.target == "cpt-a/std (/dev/vdb)" and control.target == "cpt-a/prem (/dev/vdc)"
    assert (capped.name, control.name) == ("storage.cpt-a/std.randread", "storage.cpt-a/prem.randread.control")
    assert capped.metrics["iops_target"] == [500.0]
    # fio in a starved guest logs fewer 1-s samples in the same run time (seen: 2 of 5 at CPU pressure
    # ~100%), with the steady rate still on the cap: fewer samples only on a busy host
    assert len(capped.metrics["iops"]) >= 3 or capped.verdict == "inconclusive" or (
        capped.metrics["iops"] and _host_was_busy(capped)), capped.metrics
    _pass_or_says_why(control, "host ")  # >= 2 x 500, or the host was busy and it says how busy
    if control.verdict == "inconclusive":
        assert _host_was_busy(control), control.metrics
    else:
        assert control.metrics["steady_iops"][0] >= 2 * capped.metrics["steady_iops"][0]
    _pass_or_says_why(capped, "")  # within 500 +-5%, unless the control could not outrun the cap


def test_check_fails_when_cap_is_raised_or_removed_live(booted):
    plan, lab_dir, _ = booted
    try:
        operations.set_disk_cap(plan.lab, "cpt-a", "std", 1000)  # fault: cap raised live
        raised = _decisive(plan, lab_dir, "std", "vdb", 500)
        assert raised.verdict == "fail" and "above the cap" in raised.measured, raised.measured
        assert raised.metrics["steady_iops"][0] > 525
        operations.set_disk_cap(plan.lab, "cpt-a", "std", None)  # fault: cap removed live
        removed = _decisive(plan, lab_dir, "std", "vdb", 500)
        assert removed.verdict == "fail" and "above the cap" in removed.measured, removed.measured
        operations.set_disk_cap(plan.lab, "cpt-a", "std", 250)  # fault: cap lowered live
        lowered = _check(plan, lab_dir, "std", "vdb", 500)
        assert lowered.verdict in ("fail", "inconclusive"), lowered.measured
        if lowered.verdict == "inconclusive":  # only a busy host may excuse it
            assert _host_was_busy(lowered), lowered.measured
        else:
            assert "lower than planned" in lowered.measured
    finally:
        operations.set_disk_cap(plan.lab, "cpt-a", "std", 500)
