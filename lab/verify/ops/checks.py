"""Lifecycle-host checks: the lab's secrets are younger than
`specs.secret_max_age_h` (baseline.secrets.age); every server's BMC answers
Redfish with the lab's credentials and lists exactly that server and its VMs
(hlh.bmc.reachable); a VM power-cycled through its server's BMC comes back
healthy in the lab (hlh.bmc.power_cycle)."""

from __future__ import annotations

import time
from functools import partial

from lab.ops import redfish, secrets
from lab.plan.model import Plan
from lab.verify.ops.cycle import check_power_cycle
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


def check_bmc_reachable(plan: Plan) -> CheckResult:
    """Never vacuous: every server has a BMC, and the server is one of its systems."""
    name = "hlh.bmc.reachable"
    hlh = plan.lifecycle_host
    target = "every server's BMC answers Redfish and lists exactly the server and its VMs"
    if hlh is None or not hlh.bmcs:
        return CheckResult(name, "hlh", target, "no BMC planned", "fail",
                           evidence="the plan has no lifecycle host or no server: nothing to reach")
    try:
        rows = redfish.survey(plan.lab)
    except redfish.BmcError as exc:
        return CheckResult(name, "hlh", target, "no BMC", "fail", evidence=str(exc))
    bad = []
    for row in rows:
        listed = sorted(s["name"] for s in row["systems"])
        if not row["answered"]:
            bad.append(f"{row['server']}: {row['error']}")
        elif listed != row["expected"]:
            bad.append(f"{row['server']}: lists {', '.join(listed) or 'nothing'}, expected "
                       f"{', '.join(row['expected'])}")
    answered = sum(r["answered"] for r in rows)
    evidence = "; ".join(bad) if bad else "; ".join(
        f"{r['server']}: {', '.join(s['name'] + ' ' + str(s['power']) for s in r['systems'])}" for r in rows)
    return CheckResult(name, "hlh", target, f"{answered}/{len(rows)} BMCs answered", "fail" if bad else "pass",
                       evidence=evidence, metrics={"bmc_unanswered": [float(len(rows) - answered)]})


def verify_checks(plan: Plan) -> list[Check]:
    return [named_check("baseline.secrets.age", "baseline", partial(check_secret_age, plan),
                        f"<= {plan.specs.secret_max_age_h:g} h"),
            named_check("hlh.bmc.reachable", "hlh", partial(check_bmc_reachable, plan), "Redfish answers"),
            named_check("hlh.bmc.power_cycle", "hlh", partial(check_power_cycle, plan),
                        "a VM cycled through its BMC comes back healthy")]
