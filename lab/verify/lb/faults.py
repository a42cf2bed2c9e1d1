"""Load-balancer faults for `lab fault inject` (each breaks what one LB check verifies)."""

from __future__ import annotations

import os

from lab.lb import loader
from lab.lb.control import with_controller
from lab.lb.state import load_state, muxes_of
from lab.plan.model import Plan
from lab.verify.lb import pool_faults


def _mux(plan: Plan, server: str | None) -> str:
    muxes = muxes_of(plan.lab)
    if not muxes:
        raise TypeError("this lab has no load balancer installed")
    return server if server in muxes else muxes[0]


def xdp_detached(plan: Plan, server: str | None = None, **_: str) -> str:
    """Detach the XDP program from the MUX's underlay NIC: VIP traffic is no longer balanced."""
    spec = load_state(plan.lab, _mux(plan, server)).spec
    loader.detach(spec.namespace, spec.ifname)
    return f"XDP detached from {spec.ifname} in {spec.namespace}"


def encap_broken(plan: Plan, server: str | None = None, **_: str) -> str:
    """Corrupt the encapsulation of every LB on the MUX: backends get unusable frames."""
    with with_controller(plan.lab, _mux(plan, server)) as ctl:
        for lb in ctl.spec.lbs:
            ctl.corrupt_encap(lb.name, True)
        return f"encapsulation broken for {', '.join(lb.name for lb in ctl.spec.lbs)}"


def affinity_off(plan: Plan, server: str | None = None, **_: str) -> str:
    """Stop using the connection table: open flows move when the ring changes."""
    with with_controller(plan.lab, _mux(plan, server)) as ctl:
        ctl.set_affinity(False)
    return "flow affinity off"


def dsr_broken(plan: Plan, server: str | None = None, **_: str) -> str:
    """Route replies through the MUX: each LB tenant's gateway sends traffic
    for the client network to the MUX instead of the ToR (no more DSR).
    `lab fault clear` (up) removes the route: it is not in the plan."""
    import ipaddress

    from lab.apply.netns import Sockets

    mux_ip = plan.host(_mux(plan, server)).underlay_ip
    tor = next(h for h in plan.hosts if h.role == "tor")
    # the ToR's client side: its "client" port, or the "external" bridge that holds it when sites exist
    client_net = str(ipaddress.ip_interface(next(a.cidr for a in tor.addresses
                                                 if a.ifname in ("client", "external"))).network)
    gateways = sorted({plan.tenant(lb.tenant).gateway_host for lb in plan.load_balancers})
    with Sockets() as sockets:
        for gw in gateways:
            sockets(plan.host(gw).namespace).route("replace", dst=client_net, gateway=mux_ip, proto=4)
    return f"{', '.join(gateways)} route {client_net} via the MUX {mux_ip}"


def clear(plan: Plan) -> list[str]:
    """Undo every LB fault: program attached, encapsulation and affinity restored."""
    repaired = []
    for mux in muxes_of(plan.lab):
        spec = load_state(plan.lab, mux).spec
        if loader.attached_prog_id(spec.namespace, spec.ifname) == 0:
            pinned = loader.Pinned(loader.pin_root(plan.lab) / mux / "lb", loader.pin_root(plan.lab))
            fd = pinned.prog_fd()
            try:
                loader.attach(spec.namespace, spec.ifname, fd)
            finally:
                os.close(fd)
            repaired.append(f"XDP re-attached on {mux}")
        with with_controller(plan.lab, mux) as ctl:
            for lb in ctl.spec.lbs:
                ctl.corrupt_encap(lb.name, False)
            ctl.set_affinity(True)
    return repaired + pool_faults.clear(plan)


FAULTS = {"xdp-detached": xdp_detached, "encap-broken": encap_broken, "affinity-off": affinity_off,
          "dsr-broken": dsr_broken, **pool_faults.FAULTS}
