"""Which checks a topology asks for: fabric checks always, RDMA where a
server claims an RDMA NIC, and each feature's own (storage, load balancer)."""

from __future__ import annotations

import json
import subprocess
import sys
from functools import partial

from lab.apply.nsexec import COLLECTORS
from lab.features import optional_modules
from lab.model.topology import Topology
from lab.plan.model import Plan
from lab.verify.fabric_checks import FABRIC_CHECKS
from lab.verify.result import CheckResult
from lab.verify.runner import Check, named_check

# Feature modules exposing verify_checks(topo, plan) -> list[Check].
FEATURE_CHECKS = ("lab.compute.checks", "lab.lb.checks")


def check_rdma(topo: Topology) -> CheckResult:
    """perftest on the RDMA NICs the topology claims; skipped (with the reason)
    where no RDMA device exists, as in the embedded lab."""
    claimed = [s.name for s in topo.servers if any(n.rdma for n in s.nics)]
    proc = subprocess.run([sys.executable, str(COLLECTORS / "rdma_perf.py")], capture_output=True,
                          text=True, timeout=180, check=False)
    data = json.loads(proc.stdout) if proc.returncode == 0 else {"skipped": proc.stderr.strip()[-200:]}
    target = f"RoCEv2 write bandwidth and latency on {', '.join(claimed)}"
    if "skipped" in data:
        return CheckResult("rdma.perftest", "rdma", target, f"skipped: {data['skipped']}", "skipped",
                           evidence=json.dumps(data))
    return CheckResult("rdma.perftest", "rdma", target,
                       f"{data['bw_gbps']:.1f} Gb/s, {data['lat_typical_us']:.2f} us on {data['device']}",
                       "pass" if data["bw_gbps"] else "fail", evidence=json.dumps(data),
                       metrics={"throughput_bps": [data["bw_gbps"] * 1e9], "latency_us": [data["lat_typical_us"]]})


def checks_for(topo: Topology, plan: Plan) -> list[Check]:
    checks: list[Check] = [
        named_check(fn.__name__.removeprefix("check_"), "fabric", partial(fn, plan, topo.specs))
        for fn in FABRIC_CHECKS
    ]
    if any(n.rdma for s in topo.servers for n in s.nics):
        checks.append(named_check("rdma.perftest", "rdma", partial(check_rdma, topo)))
    for module in optional_modules(FEATURE_CHECKS):
        if hasattr(module, "verify_checks"):
            checks.extend(module.verify_checks(topo, plan))
    return checks
