"""The IOPS check tells "the cap is wrong" from "the host is too busy to judge".

Pure verdict logic on fio summaries and host loads (no VM), the PSI window
arithmetic on pressure files, and one real window around a bounded CPU burn.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path

import pytest

from lab.compute import host_load
from lab.compute.host_load import HostLoad
from lab.verify.storage import iops as iops_check

IDLE = HostLoad(window_s=8, cpu_pct=3.0, io_pct=1.0)
BUSY = HostLoad(window_s=8, cpu_pct=85.0, io_pct=4.0)


def _summary(iops: float, rw: str = "randread") -> dict:
    return {"rw": rw, "steady_iops": iops, "peak_1s_iops": iops, "settle_s": 1,
            "iops_series": [iops] * 6}


def test_above_the_cap_fails_even_on_a_busy_host():
    """Load never makes a disk faster: a removed or raised cap is a failure, always."""
    for host in (IDLE, BUSY, None):
        r = iops_check.compare_to_cap("vm/std (/dev/vdb)", _summary(838), 500, host=host)
        assert r.verdict == "fail" and "above the cap" in r.measured, r.measured


def test_below_the_cap_is_inconclusive_on_a_busy_host_and_a_failure_on_an_idle_one():
    busy = iops_check.compare_to_cap("vm/std (/dev/vdb)", _summary(300), 500, host=BUSY)
    assert busy.verdict == "inconclusive"
    assert "CPU pressure 85%" in busy.measured and "may have set the pace" in busy.measured
    idle = iops_check.compare_to_cap("vm/std (/dev/vdb)", _summary(300), 500, host=IDLE)
    assert idle.verdict == "fail" and "lower than planned" in idle.measured
    assert "CPU pressure 3%" in idle.measured  # why this is not blamed on the host
    assert busy.metrics["host_cpu_pressure_pct"] == [85.0]


def test_a_slow_control_is_inconclusive_only_when_the_host_was_busy():
    busy = iops_check.compare_uncapped("vm/prem (/dev/vdc)", _summary(838), host=BUSY)
    assert busy.verdict == "inconclusive", busy.measured
    assert "cap cannot be judged" in busy.measured and "CPU pressure 85%" in busy.measured
    idle = iops_check.compare_uncapped("vm/prem (/dev/vdc)", _summary(838), host=IDLE)
    assert idle.verdict == "fail" and "limited on a host that was not busy" in idle.measured
    fast = iops_check.compare_uncapped("vm/prem (/dev/vdc)", _summary(1500), host=BUSY)
    assert fast.verdict == "pass"


def test_a_capped_pass_needs_a_control_faster_than_the_cap():
    def run(control_iops: float) -> list:
        capped = iops_check.compare_to_cap("vm/std (/dev/vdb)", _summary(500), 500, host=BUSY)
        control = iops_check.compare_uncapped("vm/prem (/dev/vdc)", _summary(control_iops), host=BUSY)
        other = iops_check.compare_to_cap("vm2/std (/dev/vdb)", _summary(500), 500, host=BUSY)
        return iops_check.judge_with_controls([capped, control, other])

    capped, control, other = run(510)  # the guest could not go faster than the cap anyway
    assert capped.verdict == "inconclusive" and "cannot be told from a slow guest" in capped.measured
    assert other.verdict == "pass"  # another VM's disks are judged by their own control
    capped, control, _ = run(838)  # above the cap's band: the throttle is what holds the capped disk
    assert capped.verdict == "pass" and control.verdict == "inconclusive"


def _pressure(root: Path, cpu_us: int, io_us: int) -> None:
    for name, total in (("cpu", cpu_us), ("io", io_us)):
        (root / name).write_text(f"some avg10=0.00 avg60=0.00 avg300=0.00 total={total}\n"
                                 "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n")


def test_pressure_is_the_share_of_the_window_some_task_waited(tmp_path):
    _pressure(tmp_path, 1_000_000, 5_000_000)
    with host_load.measuring(tmp_path) as window:
        time.sleep(0.5)
        _pressure(tmp_path, 1_250_000, 5_000_000)  # 0.25 s of CPU waiting in ~0.5 s
    load = window.result
    assert load is not None and 40 <= load.cpu_pct <= 51 and load.io_pct == 0
    assert load.busy and "CPU pressure" in load.describe()


def test_without_psi_the_load_average_stands_in(tmp_path):
    with host_load.measuring(tmp_path / "absent") as window:
        pass
    load = window.result
    assert load is not None and load.cpu_pct is None and load.load_per_cpu is not None
    assert "no PSI" in load.describe()


def _spin(until: float) -> None:
    while time.monotonic() < until:
        pass


@pytest.mark.skipif(not Path("/proc/pressure/cpu").exists(), reason="kernel without PSI")
def test_a_real_cpu_burn_reads_as_a_busy_host():
    burners = 2 * (os.cpu_count() or 1) + 1  # more runnable tasks than CPUs: someone waits
    with host_load.measuring() as window:
        until = time.monotonic() + 2.0  # bounded: 2 s
        procs = [multiprocessing.Process(target=_spin, args=(until,)) for _ in range(burners)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(timeout=10)
    assert window.result is not None and window.result.busy, window.result.describe()


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_boot_budget_counts_time_the_host_let_guests_run(tmp_path, monkeypatch):
    """90 s of free CPU, stretched by CPU pressure up to 3x in wall time."""
    clock = _Clock()
    monkeypatch.setattr(host_load.time, "monotonic", clock)
    _pressure(tmp_path, 0, 0)
    idle = host_load.BootBudget(90.0, root=tmp_path)
    clock.now += 89.0
    assert not idle.spent()
    clock.now += 1.0
    assert idle.spent()  # an idle host: the plain wall-clock deadline

    busy = host_load.BootBudget(90.0, root=tmp_path)
    clock.now += 120.0
    _pressure(tmp_path, 60_000_000, 0)  # half of those 120 s some task waited for a CPU
    assert not busy.spent() and round(busy.usable()) == 60
    clock.now += 150.0  # 270 s wall: the cap, however busy
    _pressure(tmp_path, 270_000_000, 0)
    assert busy.spent() and "270 s wall" in busy.describe()


def test_without_psi_the_boot_budget_is_wall_time(tmp_path, monkeypatch):
    clock = _Clock()
    monkeypatch.setattr(host_load.time, "monotonic", clock)
    budget = host_load.BootBudget(90.0, root=tmp_path / "absent")
    clock.now += 90.0
    assert budget.spent()
