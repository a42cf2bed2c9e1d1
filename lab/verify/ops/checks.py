"""Lifecycle-host checks: the lab's secrets are younger than
`specs.secret_max_age_h` (baseline.secrets.age), and the lab's BMC answers
Redfish with the lab's credentials and shows exactly the lab's own domains
(hlh.bmc.reachable)."""

from __future__ import annotations

import time
from functools import partial

from lab.ops import redfish, secrets
from lab.plan.model import Plan
from lab.verify.result import CheckResult
from lab.verify.runner import Check, named_check


def check_secret_age(plan: Plan) -> CheckResult:
    limit = plan.specs.secret_max_age_h
    rows = secrets.status(plan.lab, max_age=limit)
    target = f"every lab secret younger than {limit:g} h"
    absent = secrets.missing(plan.lab)
    if absent:
        return CheckResult("baseline.secrets.age", "baseline", target, f"missing: {', '.join(absent)}", "fail",
                           evidence="the secret store lacks them: run `lab up`")
    oldest = max(rows, key=lambda r: r["age_h"])
    stale = [r for r in rows if r["stale"]]
    evidence = (", ".join(f"{r['name']} {r['age_h']:.1f} h old" for r in stale) + ": `lab secrets rotate --all`"
                if stale else f"oldest: {oldest['name']}, next rotation due "
                f"{time.strftime('%Y-%m-%d %H:%M', time.localtime(oldest['next_rotation']))}")
    return CheckResult("baseline.secrets.age", "baseline", target, f"oldest {oldest['age_h']:.2f} h",
                       "fail" if stale else "pass", evidence=evidence,
                       metrics={"secret_age_h_max": [float(oldest["age_h"])]})


def _vm_names(plan: Plan) -> set[str]:
    return {e.name for e in plan.endpoints if e.kind == "vm"}


def check_bmc_reachable(plan: Plan) -> CheckResult:
    target = "the lab's BMC answers Redfish and lists exactly the lab's VMs"
    try:
        listed = {s["name"] for s in redfish.systems(plan.lab)}
    except redfish.BmcError as exc:
        return CheckResult("hlh.bmc.reachable", "hlh", target, "no answer", "fail", evidence=str(exc))
    wanted = _vm_names(plan)
    ok = listed == wanted
    return CheckResult("hlh.bmc.reachable", "hlh", target, f"{len(listed)} systems", "pass" if ok else "fail",
                       evidence="systems: " + (", ".join(sorted(listed)) or "none (no VM in this lab)")
                       + ("" if ok else f"; expected: {', '.join(sorted(wanted)) or 'none'}"))


def verify_checks(plan: Plan) -> list[Check]:
    return [named_check("baseline.secrets.age", "baseline", partial(check_secret_age, plan),
                        f"<= {plan.specs.secret_max_age_h:g} h"),
            named_check("hlh.bmc.reachable", "hlh", partial(check_bmc_reachable, plan), "Redfish answers")]
