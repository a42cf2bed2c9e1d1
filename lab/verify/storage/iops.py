"""The disk IOPS check: fio in the guest against the disk's planned cap.

Pass when the steady-state IOPS is within +-tolerance % of the cap, in both
directions: a disk far *below* its cap is as wrong as one above it (e.g. the
cap was lowered by hand, or the host is starved). An uncapped disk is the
control: it must measure at least `factor` x the standard cap, which proves
the throttle, not the guest, limits the capped disk.

The expected cap comes from the plan (what the topology asks for), never from
libvirt's live setting, so a cap changed live shows up as a failure.

A guest that is slower than it should be may be wrong or may be starved: a
TCG guest runs only when the host gives its vCPU a core. So host pressure
(lab.compute.host_load) is measured over each fio run, and a result that is
too *low* on a busy host is `inconclusive`, saying why, instead of `fail`.
Too high is always decisive: load never makes a disk faster, so a removed or
raised cap still fails on a busy host. A capped disk's pass also needs its
VM's control to have run faster than the cap, else the throttle cannot be
told from a slow host.
"""

from __future__ import annotations

import importlib.util
import json
import time
from pathlib import Path
from types import ModuleType

from lab.apply.nsexec import COLLECTORS
from lab.compute import agent, host_load, operations, paths
from lab.compute.host_load import HostLoad
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


def _metrics(summary: dict, cap: int | None, host: HostLoad | None = None) -> dict[str, list[float]]:
    """`iops` holds the steady-state 1-second samples, so `lab regress` can
    test them; with `iops_target` it judges the distance from the cap."""
    series = list(summary["iops_series"])
    steady = series[summary["settle_s"]:-1] if len(series) >= summary["settle_s"] + 3 else series
    metrics = {"iops": steady, "steady_iops": [summary["steady_iops"]], "peak_1s_iops": [summary["peak_1s_iops"]]}
    if cap is not None:
        metrics["iops_target"] = [float(cap)]
    if host is not None:
        metrics.update(host.to_metrics())
    return metrics


def _name(target: str, rw: str) -> str:
    """storage.<vm>/<disk>.<pattern>: one name per disk, stable across runs."""
    return f"storage.{target.split(maxsplit=1)[0]}.{rw}"


def _too_slow(text: str, host: HostLoad | None, starved: str, limited: str) -> tuple[str, str]:
    """Below expectation: inconclusive on a busy host, a failure on an idle one (or unknown)."""
    if host is not None and host.busy:
        return "inconclusive", f"{text}; inconclusive: {host.describe()}, so {starved}"
    return "fail", f"{text}; {limited}" + (f" ({host.describe()})" if host is not None else "")


def compare_to_cap(target: str, summary: dict, cap: int, tolerance_pct: float = 5.0,
                   evidence: str = "", host: HostLoad | None = None) -> CheckResult:
    """A capped disk: steady-state IOPS within +-tolerance % of the cap."""
    measured = summary["steady_iops"]
    low, high = _bounds(cap, tolerance_pct)
    text = (f"{measured:.0f} IOPS steady (peak 1 s {summary['peak_1s_iops']:.0f}), "
            f"expected {cap} +-{tolerance_pct:g}% [{low:.0f}..{high:.0f}]")
    if low <= measured <= high:
        verdict = "pass"
    elif measured > high:
        verdict, text = "fail", f"{text}; above the cap: the throttle is missing or raised"
    else:
        verdict, text = _too_slow(text, host, "the host, not the cap, may have set the pace",
                                  "below the cap on a host that was not busy: the cap is lower than planned")
    return CheckResult(name=_name(target, summary["rw"]), group=GROUP, target=target, measured=text,
                       verdict=verdict, evidence=evidence, metrics=_metrics(summary, cap, host))


def compare_uncapped(target: str, summary: dict, reference_cap: int | None = None,
                     factor: float = CONTROL_FACTOR, evidence: str = "",
                     host: HostLoad | None = None) -> CheckResult:
    """The uncapped control disk: at least `factor` x the standard cap."""
    reference = reference_cap or DISK_TIERS["standard"] or 500
    measured = summary["steady_iops"]
    text = f"{measured:.0f} IOPS steady, expected >= {factor:g} x {reference} (uncapped)"
    if measured >= factor * reference:
        verdict = "pass"
    else:
        verdict, text = _too_slow(
            text, host, "the host cannot show the disk's headroom and the cap cannot be judged",
            "the uncapped disk is limited on a host that was not busy")
    return CheckResult(name=_name(target, summary["rw"]) + ".control", group=GROUP, target=target,
                       measured=text, verdict=verdict, evidence=evidence,
                       metrics=_metrics(summary, None, host))


def _bounds(cap: int, tolerance_pct: float) -> tuple[float, float]:
    return cap * (1 - tolerance_pct / 100), cap * (1 + tolerance_pct / 100)


def _short(summary: dict, cap: int | None, tolerance_pct: float) -> bool:
    """Slower than the verdict needs: below a cap's band, or a control under factor x the cap."""
    if cap is None:
        return summary["steady_iops"] < CONTROL_FACTOR * (DISK_TIERS["standard"] or 500)
    return summary["steady_iops"] < _bounds(cap, tolerance_pct)[0]


def _measure(lab: str, lab_dir: Path, vm: str, dev: str, rws: tuple[str, ...],
             runtime_s: int, kept: Path) -> tuple[dict[str, dict], HostLoad]:
    with host_load.measuring() as window:
        summaries = measure_in_guest(lab, lab_dir, vm, dev, rws, runtime_s, evidence_path=kept)
    assert window.result is not None
    return summaries, window.result


def check_disk_iops(lab: str, lab_dir: Path, vm: str, disk: str, dev: str, cap: int | None,
                    tolerance_pct: float = 5.0, rws: tuple[str, ...] = ("randread",),
                    runtime_s: int = 8) -> list[CheckResult]:
    """Measure one data disk in its VM and judge it against its planned cap."""
    started = time.monotonic()
    kept = evidence.new_path(lab, f"fio-{vm}-{dev}", ".json")  # the last measurement wins
    try:
        summaries, host = _measure(lab, lab_dir, vm, dev, rws, runtime_s, kept)
    except (agent.AgentError, RuntimeError):
        # a run-command lost under host load is not a measurement: once more
        time.sleep(2)
        summaries, host = _measure(lab, lab_dir, vm, dev, rws, runtime_s, kept)
    if any(_short(s, cap, tolerance_pct) for s in summaries.values()):
        # too slow can be a guest starved of host CPU (TCG) for a moment:
        # confirm with a second run. Above the cap is decisive, never re-run.
        summaries, host = _measure(lab, lab_dir, vm, dev, rws, runtime_s, kept)
    target = f"{vm}/{disk} (/dev/{dev})"
    results = [compare_to_cap(target, s, cap, tolerance_pct, str(kept), host) if cap is not None
               else compare_uncapped(target, s, evidence=str(kept), host=host) for s in summaries.values()]
    for r in results:
        r.duration_s = round(time.monotonic() - started, 2)
    return results


def judge_with_controls(results: list[CheckResult], tolerance_pct: float = 5.0) -> list[CheckResult]:
    """A capped disk's pass proves the throttle only if an uncapped disk of the
    same VM (same guest, same host) ran faster than the cap's band: otherwise
    the guest may simply be unable to go faster, and the pass is inconclusive."""
    for capped in results:
        cap = capped.metrics.get("iops_target")
        if capped.verdict != "pass" or not cap:
            continue
        vm = capped.target.split("/", 1)[0]
        controls = [r for r in results if r.name.endswith(".control") and r.target.split("/", 1)[0] == vm]
        high = _bounds(int(cap[0]), tolerance_pct)[1]
        slow = [r for r in controls if r.metrics["steady_iops"][0] <= high]
        if slow:
            capped.verdict = "inconclusive"
            capped.measured += (f"; inconclusive: the uncapped control {slow[0].target} reached only "
                                f"{slow[0].metrics['steady_iops'][0]:.0f} IOPS, not above the cap's band, "
                                "so the throttle cannot be told from a slow guest")
    return results


def check_plan_disks(plan: Plan, lab_dir: Path, tolerance_pct: float = 5.0,
                     runtime_s: int = 8) -> list[CheckResult]:
    """`lab verify`'s storage group: every data disk of every VM in the plan,
    capped ones against their cap, uncapped ones as controls. Sequential, so
    disks never compete for the host's CPU (TCG) while being measured."""
    results = []
    for vm in plan.vms():
        for disk in vm.data_disks:
            results += check_disk_iops(plan.lab, lab_dir, vm.name, disk.name,
                                       disk.dev, disk.iops_cap, tolerance_pct,
                                       runtime_s=runtime_s)
    return judge_with_controls(results, tolerance_pct)
