"""The lb group of `lab verify`: which checks a plan gets, each a CheckResult.

Every check brings its own echo backends (in the netns endpoints) and drives
traffic from the client namespace; none leaves anything running.
"""

from __future__ import annotations

from functools import partial

from lab.plan.model import Plan
from lab.verify.lb.bgp import check_routes, check_sessions
from lab.verify.lb.common import GROUP
from lab.verify.lb.datapath import check_affinity, check_dsr, check_ha_ports
from lab.verify.lb.failover import check_failover
from lab.verify.lb.frontends import check_frontends, check_no_rule_dropped
from lab.verify.lb.muxpool import check_ecmp_spread, check_mux_failover
from lab.verify.runner import Check, named_check

__all__ = ["check_affinity", "check_dsr", "check_ecmp_spread", "check_failover", "check_frontends",
           "check_ha_ports", "check_mux_failover", "check_no_rule_dropped", "check_routes", "check_sessions",
           "verify_checks"]


def verify_checks(plan: Plan) -> list[Check]:
    """The LB group of `lab verify`: the frontends of every MUX, each MUX's
    datapath behaviours (DSR spread, HA ports, affinity, failover), with BGP
    the sessions and routes, and per LB on several MUXes the ECMP spread and
    MUX failover."""
    if not plan.muxes:
        return []
    checks = [named_check("lb.all_frontends.answer", GROUP, partial(check_frontends, plan.lab)),
              named_check("lb.no_rule.all_vips", GROUP, partial(check_no_rule_dropped, plan.lab))]
    for mux in plan.muxes:
        m = mux.name
        checks += [
            named_check(f"lb.{m}.dsr_distribution", GROUP,
                        partial(check_dsr, plan.lab, m, p_min=plan.specs.lb_chi_square_p)),
            named_check(f"lb.{m}.ha_ports", GROUP, partial(check_ha_ports, plan.lab, m)),
            named_check(f"lb.{m}.flow_affinity", GROUP, partial(check_affinity, plan.lab, m)),
            named_check(f"lb.{m}.failover", GROUP,
                        partial(check_failover, plan.lab, m, spec_s=plan.specs.failover_s)),
        ]
    if plan.bgp is not None:
        checks += [named_check("lb.bgp.sessions", GROUP, partial(check_sessions, plan)),
                   named_check("lb.bgp.routes", GROUP, partial(check_routes, plan))]
    specs = plan.specs
    pooled = sorted({lb.name for m in plan.muxes for lb in m.lbs
                     if sum(lb.name in {x.name for x in n.lbs} for n in plan.muxes) > 1})
    if pooled and plan.bgp is not None:  # the MUX pool is one: measured on its first LB
        checks += [
            named_check("lb.ecmp.spread", GROUP,
                        partial(check_ecmp_spread, plan.lab, pooled[0], p_min=specs.lb_chi_square_p)),
            named_check("lb.mux_pool.failover", GROUP,
                        partial(check_mux_failover, plan.lab, pooled[0], spec_s=specs.mux_failover_s,
                                moved_pct=specs.mux_failover_moved_pct)),
        ]
    return checks
