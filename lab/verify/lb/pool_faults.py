"""Faults of the MUX pool (BGP, ECMP, shared rings), each aimed at one check:

  mux-down      -> lb.bgp.sessions   (the MUX's speaker killed, its program detached)
  bgp-flap      -> lb.bgp.sessions   (the MUX's session to the ToR is shut)
  ring-diverge  -> lb.mux_pool.failover (one MUX's ring built from another backend list)
  ecmp-l3-hash  -> lb.ecmp.spread    (the ToR hashes by addresses only)

A fault fails its check and no other: lb.bgp.routes expects next hops only
from MUXes the ToR holds a session with, and the spread and failover checks
measure over the MUXes in service, saying "skipped" when one is left.

`lab fault clear` runs `up` (restarts the daemons, restores the sysctl) and
then `clear` here (re-opens sessions, rewrites rings).
"""

from __future__ import annotations

from lab.apply.netns import write_sysctl
from lab.lb import advertise, frr, loader
from lab.lb.control import with_controller
from lab.lb.state import load_state, muxes_of
from lab.plan.model import Plan

HASH_POLICY = "net.ipv4.fib_multipath_hash_policy"


def _speaker_mux(plan: Plan, server: str | None, last: bool = False) -> str:
    """The named MUX, else the first (or last) MUX with a speaker."""
    names = [m.name for m in plan.muxes if m.bgp is not None and m.name in muxes_of(plan.lab)]
    if not names:
        raise TypeError("this lab has no BGP speaker (tor.routing: static, or no load balancer installed)")
    if server in names:
        return server
    return names[-1] if last else names[0]


def mux_down(plan: Plan, server: str | None = None, **_: str) -> str:
    """Stop a MUX: its routing daemons are killed (silently: the ToR's BFD must notice) and its XDP
    program detached."""
    mux = _speaker_mux(plan, server)
    spec = load_state(plan.lab, mux).spec
    killed = frr.Instance(plan.lab, mux, spec.namespace).kill()
    loader.detach(spec.namespace, spec.ifname)
    return f"{mux}: killed {', '.join(killed) or 'nothing'}, XDP detached from {spec.ifname}"


def bgp_flap(plan: Plan, server: str | None = None, **_: str) -> str:
    """Drop a MUX's BGP session to the ToR and hold it down (`neighbor shutdown` on the MUX)."""
    mux = _speaker_mux(plan, server)
    spec = plan.mux(mux)
    assert spec.bgp is not None
    frr.Instance(plan.lab, mux, spec.namespace).command(
        "configure terminal", f"router bgp {spec.bgp.asn}", f"neighbor {spec.bgp.peer} shutdown")
    return f"{mux}: session to {spec.bgp.peer} shut down"


def ring_diverge(plan: Plan, server: str | None = None, **_: str) -> str:
    """Build one MUX's rings from a shorter backend list than the other MUXes': flows re-hashed to it
    change backend."""
    mux = _speaker_mux(plan, server, last=True)
    with with_controller(plan.lab, mux) as ctl:
        for lb in ctl.spec.lbs:
            ctl.rebuild_rings(lb.name, leave_out=frozenset({lb.backends[0].name}))
        return f"{mux}: rings of {', '.join(lb.name for lb in ctl.spec.lbs)} built without their first backend"


def ecmp_l3_hash(plan: Plan, **_: str) -> str:
    """Make the ToR hash ECMP by addresses only: one client's flows to a VIP all take one MUX."""
    if plan.bgp is None:
        raise TypeError("this lab has no BGP (tor.routing: static): no ECMP to break")
    write_sysctl(plan.bgp.namespace, HASH_POLICY, "0")
    return f"{plan.bgp.name}: {HASH_POLICY}=0"


def clear(plan: Plan) -> list[str]:
    """Open every MUX's session again and rewrite every ring from the healthy backends."""
    repaired = []
    for mux in plan.muxes:
        if mux.bgp is None or mux.name not in muxes_of(plan.lab):
            continue
        inst = frr.Instance(plan.lab, mux.name, mux.namespace)
        if inst.pids():
            inst.command("configure terminal", f"router bgp {mux.bgp.asn}", f"no neighbor {mux.bgp.peer} shutdown")
        with with_controller(plan.lab, mux.name) as ctl:
            for lb in ctl.spec.lbs:
                ctl.rebuild_rings(lb.name, leave_out=frozenset())
        repaired.append(f"{mux.name}: session open, rings rebuilt")
    advertise.sync_lab(plan.lab)
    return repaired


FAULTS = {"mux-down": mux_down, "bgp-flap": bgp_flap, "ring-diverge": ring_diverge, "ecmp-l3-hash": ecmp_l3_hash}
