"""The rdma group of `lab verify`: perftest on the NICs the topology claims
RDMA-capable; skipped, with the reason, where no RDMA device exists (as in
the embedded lab: this kernel has no RXE)."""

from __future__ import annotations

import json
import subprocess
import sys
from functools import partial

from lab.apply.nsexec import COLLECTORS
from lab.plan.model import Plan
from lab.verify.result import CheckResult
from lab.verify.runner import Check, named_check

GROUP = "rdma"
NAME = "rdma.nics.perftest"


def claimed_rdma(plan: Plan) -> list[str]:
    return [f"{h.name}/{n.name}" for h in plan.hosts for n in h.nics if n.rdma]


def check_rdma(plan: Plan) -> CheckResult:
    claimed = claimed_rdma(plan)
    proc = subprocess.run([sys.executable, str(COLLECTORS / "rdma_perf.py")], capture_output=True,
                          text=True, timeout=180, check=False)
    data = json.loads(proc.stdout) if proc.returncode == 0 else {"skipped": proc.stderr.strip()[-200:]}
    target = f"RoCEv2 write bandwidth and latency on {', '.join(claimed)}"
    if "skipped" in data:
        return CheckResult(NAME, GROUP, target, f"skipped: {data['skipped']}", "skipped",
                           evidence=json.dumps(data))
    return CheckResult(NAME, GROUP, target,
                       f"{data['bw_gbps']:.1f} Gb/s, {data['lat_typical_us']:.2f} us on {data['device']}",
                       "pass" if data["bw_gbps"] else "fail", evidence=json.dumps(data),
                       metrics={"throughput_bps": [data["bw_gbps"] * 1e9], "latency_us": [data["lat_typical_us"]]})


def verify_checks(plan: Plan) -> list[Check]:
    return [named_check(NAME, GROUP, partial(check_rdma, plan))] if claimed_rdma(plan) else []
