"""vpn.<name>.failover: kill the active gateway of a pair (SIGKILL of its VPN
daemon: a crash, nothing said to anyone) while the site pings a tenant
address every PROBE_INTERVAL_S; the tunnel must come back through the standby
within specs.vpn_failover_s, measured from the kill to the first answered
probe sent after it. Then the active is restarted (as `up` does) and the
pair must fail back to it within the spec again, so the next run finds the
lab as planned. A result past the spec on a host too busy to judge is
inconclusive, not a failure (lab.compute.host_load).
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
import sys
import time

from lab.apply.nsexec import COLLECTORS, popen_in_namespace
from lab.compute import host_load
from lab.plan.model import Plan
from lab.plan.vpn_model import VpnSpec
from lab.verify.result import CheckResult
from lab.vpn import daemon, ends, lifecycle
from lab.vpn.state import serving

PROBE_INTERVAL_S = 0.1
READY_TIMEOUT_S = 15.0


def _target(plan: Plan, vpn: VpnSpec) -> str:
    eps = [e.address for e in plan.endpoints if e.tenant == vpn.tenant]
    return eps[0] if eps else str(ipaddress.ip_network(vpn.tenant_subnets[0]).network_address + 1)


def _start_probe(vpn: VpnSpec, target: str, max_s: float) -> subprocess.Popen:
    proc = popen_in_namespace(vpn.site.namespace, [
        sys.executable, str(COLLECTORS / "outage.py"), target, "--source", vpn.site.lan_address,
        "--interval", str(PROBE_INTERVAL_S), "--max-s", str(max_s)], stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    return proc


def _wait_ready(proc: subprocess.Popen) -> bool:
    """The probe says `ready` at its first answered echo (bounded by its own --max-s)."""
    assert proc.stdout is not None
    return proc.stdout.readline().strip() == "ready"


def _recovery(probes: list[dict], killed_at: float) -> float | None:
    """Seconds from the kill to the first answered probe sent after it."""
    after = [p for p in probes if p["sent"] >= killed_at]
    first_ok = next((p for p in after if p["ok"]), None)
    return None if first_ok is None else first_ok["sent"] - killed_at


def _wait_for(condition, timeout: float) -> float | None:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if condition():
            return time.monotonic() - start
        time.sleep(0.1)
    return None


def check_failover(plan: Plan, name: str, spec_s: float = 10.0) -> CheckResult:
    vpn = plan.vpn(name)
    active, standby = vpn.instances
    target = f"site reaches the tenant through {standby.host} within {spec_s:g} s of {active.host} failing"
    site = ends.site_end(vpn)
    if serving(vpn) != active.host or not ends.tunnel(vpn, site)["up"]:
        return _result(name, target, "not redundant", "fail",
                       f"before the test: served by {serving(vpn)}, tunnel "
                       f"{'up' if ends.tunnel(vpn, site)['up'] else 'down'}; the pair must start from its active")
    pid = ends.running(vpn, ends.instance_end(vpn, active.host))
    dest = _target(plan, vpn)
    proc = _start_probe(vpn, dest, max_s=READY_TIMEOUT_S + 2 * spec_s + 5)
    with host_load.measuring() as window:  # over the failover and the failback
        if not _wait_ready(proc):
            proc.kill()
            proc.wait()
            return _result(name, target, "no baseline", "fail", f"{site.host} never reached {dest} before the test")
        killed_at = time.monotonic()
        if pid:
            daemon.kill(pid)
        out, _ = proc.communicate("killed\n", timeout=READY_TIMEOUT_S + 2 * spec_s + 30)
        via = ends.tunnel(vpn, site)["remote"]
        failback = _restore(plan, vpn, spec_s)
    load = window.result
    probes = json.loads(out.strip().splitlines()[-1])["probes"]
    recovered = _recovery(probes, killed_at)
    metrics = {"vpn_failover_s": [round(recovered, 3)]} if recovered is not None else {}
    if failback is not None:
        metrics["vpn_failback_s"] = [round(failback, 3)]
    problems = []
    if recovered is None or recovered > spec_s:
        problems.append(f"{site.host} reached {dest} again " + (f"after {recovered:.2f} s" if recovered else "never"))
    if via != standby.public_address:
        problems.append(f"the site's tunnel ended at {via or 'nothing'}, not at {standby.host}")
    if failback is None:
        problems.append(f"{active.host} did not take the tunnel back within {spec_s:g} s of its restart")
    measured = f"{recovered:.2f} s" if recovered is not None else "no recovery"
    evidence = "; ".join(problems) or (f"{len(probes)} probes every {PROBE_INTERVAL_S:g} s, via "
                                       f"{standby.public_address}; failed back in {failback:.2f} s")
    verdict = "pass" if not problems else "fail"
    # late is the busy host's doing as much as the pair's; never, or not through the standby, is not
    slow_only = recovered is not None and via == standby.public_address
    if problems and slow_only and load is not None and load.busy:
        verdict, measured = "inconclusive", f"{measured}; {load.describe()}"
    return _result(name, target, measured, verdict, evidence, metrics)


def _restore(plan: Plan, vpn: VpnSpec, spec_s: float) -> float | None:
    """Restart the active alone (as `up` would, leaving the rest of the lab as
    it is: an injected fault elsewhere stays) and wait for the pair to fail back."""
    active = vpn.active
    lifecycle.revive(plan.lab, vpn, active.host)
    site = ends.site_end(vpn)
    return _wait_for(lambda: serving(vpn) == active.host and ends.tunnel(vpn, site)["remote"]
                     == active.public_address and ends.tunnel(vpn, site)["up"], spec_s)


def _result(name: str, target: str, measured: str, verdict: str, evidence: str,
            metrics: dict[str, list[float]] | None = None) -> CheckResult:
    return CheckResult(f"vpn.{name}.failover", "vpn", target, measured, verdict,  # type: ignore[arg-type]
                       evidence=evidence, metrics=metrics or {})
