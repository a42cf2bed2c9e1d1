"""The disk IOPS check: fio in the guest against the disk's planned cap.

Pass when the steady-state IOPS is within +-tolerance % of the cap, in both
directions: a disk far *below* its cap is as wrong as one above it (e.g. the
cap was lowered by hand, or the host is starved). An uncapped disk is the
control: it must measure at least `factor` x the standard cap, which proves
the throttle, not the guest, limits the capped disk.

The expected cap comes from the plan (what the topology asks for), never from
libvirt's live setting, so a cap changed live shows up as a failure.
"""

from __future__ import annotations

import importlib.util
import json
import time
from pathlib import Path
from types import ModuleType

from lab.apply.nsexec import COLLECTORS
from lab.compute import agent, operations, paths
from lab.model.sizes import DISK_TIERS
from lab.plan.model import Plan
from lab.verify import evidence
from lab.verify.result import CheckResult

COLLECTOR = COLLECTORS / "fio_iops.py"
GROUP = "storage"
CONTROL_FACTOR = 2.0
# A deep queue batches virtio kicks and interrupts, each an expensive exit
# under TCG, so a guest on a busy host can still fill a 500-IOPS cap.
GUEST_IODEPTH = 16


def load_collector() -> ModuleType:
    """collectors/ is standalone (not a package of lab): load the file itself."""
    spec = importlib.util.spec_from_file_location("stacklab_fio_iops", COLLECTOR)
    if spec is None or spec.loader is None:
        raise ImportError(f"fio collector not found at {COLLECTOR}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def measure_in_guest(lab: str, lab_dir: Path, vm: str, dev: str,
                     rws: tuple[str, ...] = ("randread",), runtime_s: int = 8,
                     ramp_s: int = 2, settle_s: int = 1,
                     iodepth: int = GUEST_IODEPTH, evidence_path: Path | None = None) -> dict[str, dict]:
    """Run the collector's fio script in the guest on /dev/<dev>; the raw
    result is kept as evidence in `evidence_path` (default: the VM's directory)."""
    fio = load_collector()
    script = fio.guest_script(f"/dev/{dev}", rws, runtime_s, ramp_s, iodepth)
    result = operations.exec_vm(lab, lab_dir, vm, script,
                                timeout_s=len(rws) * (runtime_s + ramp_s + 30))
    if not result.ok:
        raise RuntimeError(f"fio in {vm} on /dev/{dev} exited {result.exit_code}: "
                           f"{result.output[-500:]}")
    summaries = {rw: fio.summarize(rw, data, series, settle_s)
                 for rw, (data, series) in fio.parse_guest_output(result.output).items()}
    kept = evidence_path or paths.vm_dir(lab_dir, vm) / f"fio-{dev}-{int(time.time())}.json"
    kept.write_text(json.dumps({"vm": vm, "dev": dev, "results": summaries}, indent=2))
    return summaries


def _metrics(summary: dict, cap: int | None) -> dict[str, list[float]]:
    """`iops` holds the steady-state 1-second samples, so `lab regress` can
    test them; with `iops_target` it judges the distance from the cap."""
    series = list(summary["iops_series"])
    steady = series[summary["settle_s"]:-1] if len(series) >= summary["settle_s"] + 3 else series
    metrics = {"iops": steady, "steady_iops": [summary["steady_iops"]], "peak_1s_iops": [summary["peak_1s_iops"]]}
    if cap is not None:
        metrics["iops_target"] = [float(cap)]
    return metrics


def _name(target: str, rw: str) -> str:
    """storage.<vm>/<disk>.<pattern>: one name per disk, stable across runs."""
    return f"storage.{target.split(maxsplit=1)[0]}.{rw}"


def compare_to_cap(target: str, summary: dict, cap: int, tolerance_pct: float = 5.0,
                   evidence: str = "") -> CheckResult:
    """A capped disk: steady-state IOPS within +-tolerance % of the cap."""
    measured = summary["steady_iops"]
    low, high = _bounds(cap, tolerance_pct)
    ok = low <= measured <= high
    return CheckResult(
        name=_name(target, summary["rw"]), group=GROUP, target=target,
        measured=(f"{measured:.0f} IOPS steady (peak 1 s {summary['peak_1s_iops']:.0f}), "
                  f"expected {cap} +-{tolerance_pct:g}% [{low:.0f}..{high:.0f}]"),
        verdict="pass" if ok else "fail", evidence=evidence, metrics=_metrics(summary, cap))


def compare_uncapped(target: str, summary: dict, reference_cap: int | None = None,
                     factor: float = CONTROL_FACTOR, evidence: str = "") -> CheckResult:
    """The uncapped control disk: at least `factor` x the standard cap."""
    reference = reference_cap or DISK_TIERS["standard"] or 500
    measured = summary["steady_iops"]
    ok = measured >= factor * reference
    return CheckResult(
        name=_name(target, summary["rw"]) + ".control", group=GROUP, target=target,
        measured=f"{measured:.0f} IOPS steady, expected >= {factor:g} x {reference} (uncapped)",
        verdict="pass" if ok else "fail", evidence=evidence, metrics=_metrics(summary, None))


def _bounds(cap: int, tolerance_pct: float) -> tuple[float, float]:
    return cap * (1 - tolerance_pct / 100), cap * (1 + tolerance_pct / 100)


def _below(summary: dict, cap: int, tolerance_pct: float) -> bool:
    return summary["steady_iops"] < _bounds(cap, tolerance_pct)[0]


def check_disk_iops(lab: str, lab_dir: Path, vm: str, disk: str, dev: str, cap: int | None,
                    tolerance_pct: float = 5.0, rws: tuple[str, ...] = ("randread",),
                    runtime_s: int = 8) -> list[CheckResult]:
    """Measure one data disk in its VM and judge it against its planned cap."""
    started = time.monotonic()
    kept = evidence.new_path(lab, f"fio-{vm}-{dev}", ".json")  # the last measurement wins
    try:
        summaries = measure_in_guest(lab, lab_dir, vm, dev, rws, runtime_s, evidence_path=kept)
    except (agent.AgentError, RuntimeError):
        # a run-command lost under host load is not a measurement: once more
        time.sleep(2)
        summaries = measure_in_guest(lab, lab_dir, vm, dev, rws, runtime_s, evidence_path=kept)
    if cap is not None and any(_below(s, cap, tolerance_pct) for s in summaries.values()):
        # below the cap can be a guest starved of host CPU (TCG) for a moment:
        # confirm with a second run. Above the cap is decisive, never re-run.
        summaries = measure_in_guest(lab, lab_dir, vm, dev, rws, runtime_s, evidence_path=kept)
    target = f"{vm}/{disk} (/dev/{dev})"
    results = [compare_to_cap(target, s, cap, tolerance_pct, str(kept)) if cap is not None
               else compare_uncapped(target, s, evidence=str(kept)) for s in summaries.values()]
    for r in results:
        r.duration_s = round(time.monotonic() - started, 2)
    return results


def check_plan_disks(plan: Plan, lab_dir: Path, tolerance_pct: float = 5.0,
                     runtime_s: int = 8) -> list[CheckResult]:
    """`lab verify`'s storage group: every data disk of every VM in the plan,
    capped ones against their cap, uncapped ones as controls. Sequential, so
    disks never compete for the host's CPU (TCG) while being measured."""
    results = []
    for vm in plan.endpoints:
        if vm.kind != "vm":
            continue
        for disk in vm.data_disks:
            results += check_disk_iops(plan.lab, lab_dir, vm.name, disk.name,
                                       disk.dev, disk.iops_cap, tolerance_pct,
                                       runtime_s=runtime_s)
    return results
