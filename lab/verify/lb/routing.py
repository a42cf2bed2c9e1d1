"""What the ToR forwards a VIP to: the next hops BGP installed in its FIB.

The kernel holds the route with a nexthop-group id (zebra uses kernel
nexthop objects), which pyroute2 cannot resolve, so the next hops come from
zebra's own record of what the kernel accepted (`fib` on each next hop of an
installed route), and the kernel is asked only that the route is there.
"""

from __future__ import annotations

import socket

from lab.lb import bgp, frr, loader
from lab.plan.lb_model import MuxSpec


def _kernel_has(namespace: str, vip: str) -> bool:
    """Does the main table hold `vip`/32? A dump, not a lookup: `get_routes(dst=)`
    asks the FIB to resolve the address and raises ENETUNREACH while BGP has
    withdrawn it (the ToR has no default route)."""
    try:
        with loader.netlink(namespace) as ipr:
            routes = ipr.get_routes(family=socket.AF_INET, table=254)  # main
    except OSError:
        return False
    return any(r["dst_len"] == 32 and r.get_attr("RTA_DST") == vip for r in routes)


def _tor_host(tor_namespace: str) -> str:
    return tor_namespace.split(".", 1)[1]  # namespaces are <lab>.<host>


def tor_nexthops(lab: str, tor_namespace: str, vip: str) -> set[str]:
    """Next-hop addresses of `vip`/32 in the ToR's FIB (empty: not routed)."""
    host = _tor_host(tor_namespace)
    answer = frr.Instance(lab, host, tor_namespace).show(f"show ip route {vip}/32 json")
    hops = {h["ip"] for route in answer.get(f"{vip}/32", []) if route.get("installed")
            for h in route.get("nexthops", []) if h.get("fib") and "ip" in h}
    return hops if hops and _kernel_has(tor_namespace, vip) else set()


def sessions_up(lab: str, tor_namespace: str) -> set[str]:
    """Underlay addresses of the MUXes whose session the ToR holds Established."""
    return {addr for addr, s in bgp.sessions(lab, _tor_host(tor_namespace)).items() if s["state"] == "Established"}


def in_service(muxes: list[MuxSpec]) -> list[MuxSpec]:
    """The MUXes that can take VIP traffic now: XDP program attached and the
    ToR's session Established. The pool checks judge spread and failover over
    these only, so a MUX that is down fails lb.bgp.sessions and nothing else."""
    if not muxes:
        return []
    up = sessions_up(muxes[0].lab, muxes[0].tor_namespace)
    return [m for m in muxes if m.underlay_ip in up and loader.attached_prog_id(m.namespace, m.ifname) != 0]
