"""Lifecycle-host faults for `lab fault inject`: a secret past its maximum
age (stale-secret), the BMC emulator killed (bmc-down: every server's BMC
goes silent, so hlh.bmc.reachable and hlh.bmc.power_cycle fail). `clear`
rotates stale secrets and restarts the BMC."""

from __future__ import annotations

from lab.ops import bmc, secrets
from lab.plan.model import Plan


def stale_secret(plan: Plan, **_: str) -> str:
    """Backdate the BMC credentials past specs.secret_max_age_h (value kept)."""
    hours = plan.specs.secret_max_age_h + 1
    secrets.backdate(plan.lab, "bmc", hours)
    return f"secret bmc of lab {plan.lab} now {hours:g} h old (limit {plan.specs.secret_max_age_h:g} h)"


def bmc_down(plan: Plan, **_: str) -> str:
    """Kill the lifecycle host's BMC emulator (SIGKILL): no server's BMC answers."""
    pid = bmc.kill(plan.lab)
    if pid is None:
        raise TypeError(f"lab {plan.lab} has no running BMC emulator")
    return f"BMC emulator of lab {plan.lab} (pid {pid}) killed: every server's BMC is silent"


def clear(plan: Plan) -> list[str]:
    repaired = [f"secret {s['name']} rotated" for s in secrets.status(plan.lab, plan.specs.secret_max_age_h)
                if s["stale"] and secrets.rotate(plan.lab, s["name"])]
    if not bmc.running(plan.lab):
        ports = bmc.start(plan)
        repaired.append(f"BMC emulator restarted (ports {', '.join(map(str, ports))})")
    return repaired


FAULTS = {"stale-secret": stale_secret, "bmc-down": bmc_down}
