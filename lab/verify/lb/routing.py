"""What the ToR forwards a VIP to: the next hops BGP installed in its FIB.

The kernel holds the route with a nexthop-group id (zebra uses kernel
nexthop objects), which pyroute2 cannot resolve, so the next hops come from
zebra's own record of what the kernel accepted (`fib` on each next hop of an
installed route), and the kernel is asked only that the route is there.
"""

from __future__ import annotations

from lab.lb import frr, loader


def _kernel_has(namespace: str, vip: str) -> bool:
    try:
        with loader.netlink(namespace) as ipr:
            routes = ipr.get_routes(family=2, dst=vip, dst_len=32, table=254)
    except OSError:
        return False
    return any(r.get_attr("RTA_DST") == vip for r in routes)


def tor_nexthops(lab: str, tor_namespace: str, vip: str) -> set[str]:
    """Next-hop addresses of `vip`/32 in the ToR's FIB (empty: not routed)."""
    host = tor_namespace.split(".", 1)[1]  # namespaces are <lab>.<host>
    answer = frr.Instance(lab, host, tor_namespace).show(f"show ip route {vip}/32 json")
    hops = {h["ip"] for route in answer.get(f"{vip}/32", []) if route.get("installed")
            for h in route.get("nexthops", []) if h.get("fib") and "ip" in h}
    return hops if hops and _kernel_has(tor_namespace, vip) else set()
