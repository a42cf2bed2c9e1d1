"""hlh.bmc.power_cycle: the first VM of the plan is power-cycled through its
server's BMC (Redfish ForceRestart) and must come back healthy in the lab:
a new QEMU process (the domain id changes: the cycle happened), its agent
answers, its tap is back on its tenant bridge, and it reaches the other
endpoints of its tenant and its gateway while they reach it.

The guest's boot is waited for with a budget in CPU time the guest could
have had (lab.compute.host_load.BootBudget): a guest starved by a busy host
is `inconclusive` with the numbers, never a pass and never a false failure.
"""

from __future__ import annotations

from lab.compute import agent, libvirt_driver, paths
from lab.compute.daemons import connect
from lab.compute.domain_xml import domain_name
from lab.compute.host_load import BootBudget
from lab.compute.status import vm_status
from lab.ops import redfish
from lab.plan.model import EndpointPlan, Plan
from lab.verify.endpoints import endpoint
from lab.verify.result import CheckResult

NAME = "hlh.bmc.power_cycle"
BOOT_BUDGET_S = 60.0
AGENT_SLICE_S = 10.0
TRIES = 3


def _domain_id(lab: str, vm: str) -> int | None:
    conn = connect()
    try:
        dom = libvirt_driver.lookup(conn, domain_name(lab, vm))
        return dom.ID() if dom is not None and dom.isActive() else None
    finally:
        conn.close()


def _wait_agent(plan: Plan, vm: EndpointPlan) -> tuple[bool, BootBudget]:
    budget = BootBudget(BOOT_BUDGET_S)
    sock = paths.agent_socket(paths.default_lab_dir(plan.lab), vm.name)
    while True:
        try:
            agent.wait_ready(sock, AGENT_SLICE_S)
            return True, budget
        except agent.AgentError as exc:
            if budget.spent() or isinstance(exc, agent.AgentGone):
                return False, budget


def _peers(plan: Plan, vm: EndpointPlan) -> list[EndpointPlan]:
    return [e for e in plan.endpoints if e.tenant == vm.tenant and e.name != vm.name]


def check_power_cycle(plan: Plan) -> CheckResult:
    vms = plan.vms()
    if not vms:
        return CheckResult(NAME, "hlh", "a VM power-cycled through its BMC comes back healthy", "no VM",
                           "skipped", evidence="no VM in this lab: nothing to power-cycle")
    vm = vms[0]
    target = (f"VM {vm.name}, power-cycled through the BMC of {vm.server}, boots again, is plugged into "
              f"{vm.bridge} and reaches its tenant both ways")

    def result(measured: str, verdict: str, evidence: str, **metrics: float) -> CheckResult:
        return CheckResult(NAME, "hlh", target, measured, verdict, evidence=evidence,  # type: ignore[arg-type]
                           metrics={k: [v] for k, v in metrics.items()})

    before = _domain_id(plan.lab, vm.name)
    try:
        answer = redfish.power(plan.lab, vm.name, "cycle")
    except (redfish.BmcError, redfish.UnknownSystem) as exc:
        return result("the BMC did not cycle it", "fail", str(exc))
    after = _domain_id(plan.lab, vm.name)
    if after is None or after == before:
        return result(f"power {answer['power']}, domain id {before} -> {after}", "fail",
                      "the BMC answered but the VM's QEMU process was not restarted")
    booted, budget = _wait_agent(plan, vm)
    if not booted:
        starved = budget.usable() < budget.budget_s
        log = paths.serial_log(paths.default_lab_dir(plan.lab), vm.name)
        return result("agent silent after the cycle", "inconclusive" if starved else "fail",
                      f"{budget.describe()}; serial log: {log}" + ("; the host starved the guest" if starved else ""))
    return _health(plan, vm, target, (before, after), budget)


def _health(plan: Plan, vm: EndpointPlan, target: str, ids: tuple[int | None, int],
            budget: BootBudget) -> CheckResult:
    row = next((r for r in vm_status(plan.lab, paths.default_lab_dir(plan.lab)) if r["vm"] == vm.name), None)
    health = row["health"] if row else "its domain is gone"
    peers = _peers(plan, vm)
    out = endpoint(plan.lab, vm, vm.namespace).reach([p.address for p in peers] + [vm.gateway], TRIES)
    back = [(p.name, endpoint(plan.lab, p, p.namespace).reach([vm.address], TRIES)[0]["reachable"])
            for p in peers]
    lost = [r["target"] for r in out if not r["reachable"]] + [f"{n}->{vm.name}" for n, ok in back if not ok]
    ok = health == "ok" and not lost
    measured = (f"domain id {ids[0]} -> {ids[1]}, agent back in {budget.elapsed():.1f} s, health {health}, "
                f"{len(out) + len(back) - len(lost)}/{len(out) + len(back)} paths answered")
    evidence = "all paths answered" if not lost else "unanswered: " + ", ".join(lost)
    # recorded, not compared by `lab regress` (which compares `_s` metrics): a
    # TCG boot on shared cores follows the scheduler
    return CheckResult(NAME, "hlh", target, measured, "pass" if ok else "fail", evidence=evidence,
                       metrics={"bmc_cycle_boot_seconds": [round(budget.elapsed(), 2)]})
