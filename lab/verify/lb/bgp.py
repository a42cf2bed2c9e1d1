"""The BGP checks of the MUX pool: every MUX has its session to the ToR up
with BFD, and the ToR forwards each VIP to exactly the MUXes that can serve
it (one next hop per healthy MUX, lab.lb.advertise's rule)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from lab.lb import advertise, bgp, loader
from lab.lb.state import load_state, muxes_of
from lab.plan.model import Plan
from lab.verify.lb import traffic
from lab.verify.lb.common import carriers, probing, result, skipped, wait_for, wait_healthy
from lab.verify.lb.routing import sessions_up, tor_nexthops
from lab.verify.result import CheckResult

SETTLE_S = 10.0  # BGP update + zebra install after an announcement: well under a second here
SESSION_WAIT_S = 5.0  # a session that just flapped: BFD + connect retry (1 s) + open, ~2 s here


def check_sessions(plan: Plan) -> CheckResult:
    """The ToR's view: every planned MUX Established and its BFD session up."""
    name, t0 = "lb.bgp.sessions", time.monotonic()
    if plan.bgp is None:
        return skipped(name, "tor.routing is static: no BGP")
    want = {n.address: n.name for n in plan.bgp.neighbors}
    bgp.wait_established(plan, timeout=SESSION_WAIT_S)
    seen = bgp.sessions(plan.lab, plan.bgp.name)
    state = {mux: seen.get(addr, {"state": "absent", "bfd": "none"}) for addr, mux in want.items()}
    bad = {mux: f"{s['state']}/bfd {s['bfd']}" for mux, s in state.items()
           if s["state"] != "Established" or s["bfd"] != "up"}
    measured = "; ".join(f"{mux}: {s['state']}, BFD {s['bfd']}, up {s.get('up_s', 0):.0f} s"
                         for mux, s in state.items())
    return result(name, f"{len(want)} MUX sessions Established with BFD up "
                        f"({plan.bgp.bfd.interval_ms} ms x {plan.bgp.bfd.multiplier})",
                  measured + (f"; not up: {bad}" if bad else ""), not bad, t0,
                  metrics={"sessions_up": [float(len(want) - len(bad))]})


@contextmanager
def serving(plan: Plan) -> Iterator[None]:
    """Echo backends and probes for every LB, until every backend is healthy
    on every MUX (then every MUX should announce every VIP it carries)."""
    lbs = {lb.name: lb for m in muxes_of(plan.lab) for lb in load_state(plan.lab, m).spec.lbs}
    with ExitStack() as stack:
        backends = {b.name: b for lb in lbs.values() for b in lb.backends}
        ports = traffic.EchoPorts(*(tuple(sorted({p for lb in lbs.values() for p in getattr(
            traffic.echo_ports(lb), kind)})) for kind in ("tcp", "udp")))
        stack.enter_context(traffic.echo_backends(list(backends.values()), plan.lab, ports))
        for lb in lbs.values():
            stack.enter_context(probing(plan.lab, carriers(plan.lab, lb.name)[0], lb.name))
        for lb in lbs.values():
            wait_healthy(plan.lab, carriers(plan.lab, lb.name)[0], lb)
        yield


def expected_nexthops(lab: str) -> dict[str, set[str]]:
    """VIP -> the underlay addresses of the MUXes that can serve it now and
    whose session the ToR holds (a MUX whose session is down cannot be a next
    hop, whatever it would announce: that is lb.bgp.sessions' finding)."""
    want: dict[str, set[str]] = {}
    states = [s for s in (load_state(lab, m) for m in muxes_of(lab)) if s.spec.bgp is not None]
    up = sessions_up(lab, states[0].spec.tor_namespace) if states else set()
    for state in states:
        attached = loader.attached_prog_id(state.spec.namespace, state.spec.ifname) != 0
        for vip in {r.vip for r in state.rules}:
            want.setdefault(vip, set())
        if state.spec.underlay_ip not in up:
            continue
        for vip in advertise.can_serve(state, attached):
            want[vip].add(state.spec.underlay_ip)
    return want


def check_routes(plan: Plan) -> CheckResult:
    """With every backend serving, each VIP's next hops in the ToR's FIB are
    exactly the MUXes that can serve it, and every planned VIP has one."""
    name, t0 = "lb.bgp.routes", time.monotonic()
    if plan.bgp is None:
        return skipped(name, "tor.routing is static: no BGP")
    tor_ns = plan.bgp.namespace
    with serving(plan):
        want = expected_nexthops(plan.lab)

        def fib() -> dict[str, set[str]]:
            return {vip: tor_nexthops(plan.lab, tor_ns, vip) for vip in want}

        settled = wait_for(lambda: fib() == want, SETTLE_S, step=0.1)
        have = fib()
    planned = {fe.vip for m in plan.muxes for lb in m.lbs for fe in lb.frontends}
    unrouted = sorted(v for v in planned if not have.get(v))
    wrong = {v: sorted(have[v]) for v in want if have[v] != want[v]}
    by_ip = {n.address: n.name for n in plan.bgp.neighbors}
    shown = "; ".join(f"{v} via {', '.join(sorted(by_ip.get(h, h) for h in hops)) or 'nothing'}"
                      for v, hops in sorted(have.items()))
    ok = not unrouted and not wrong
    measured = (shown + (f"; expected {({v: sorted(by_ip.get(h, h) for h in want[v]) for v in wrong})}"
                         if wrong else "") + (f"; unrouted: {unrouted}" if unrouted else "")
                + f"; settled after {'never' if settled is None else f'{settled:.2f} s'}")
    return result(name, "each VIP: one next hop per MUX in session that can serve it", measured, ok, t0,
                  metrics={"vips_routed": [float(len(planned) - len(unrouted))]})
