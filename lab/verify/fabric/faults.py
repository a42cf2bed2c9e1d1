"""Faults a user injects to prove the rig catches problems (`lab fault`).

Each fault breaks one property a check verifies. `clear` is simply `up`
again: the appliers diff the kernel against the plan and undo the damage.
"""

from __future__ import annotations

from collections.abc import Callable

from pyroute2.netlink.rtnl import ndmsg

from lab.apply.netns import Sockets
from lab.plan.model import Plan
from lab.plan.naming import bridge_name, vxlan_name

FLOOD_MAC = "00:00:00:00:00:00"


def _server_tenant(plan: Plan, server: str | None, tenant: str | None) -> tuple[str, int]:
    """Default: the first server that hosts an endpoint of the tenant."""
    tenant_plan = plan.tenants[0] if tenant is None else plan.tenant(tenant)
    server = server or next(e.server for e in plan.endpoints if e.tenant == tenant_plan.name)
    return plan.host(server).namespace, tenant_plan.vni


def wrong_vni(plan: Plan, server: str | None = None, tenant: str | None = None) -> str:
    """Re-create the tenant's VXLAN device with a wrong VNI (another tenant's
    when that one is not on the host, else an unused one), FDB and port
    settings kept: a host programmed with the wrong VNI."""
    ns, vni = _server_tenant(plan, server, tenant)
    host = next(h for h in plan.hosts if h.namespace == ns)
    on_host = {link.vxlan.vni for link in host.links if link.vxlan}
    others = [t.vni for t in plan.tenants if t.vni not in on_host]
    wrong = others[0] if others else max(t.vni for t in plan.tenants) + 1000
    with Sockets() as sockets:
        ipr = sockets(ns)
        old = ipr.get_links(ipr.link_lookup(ifname=vxlan_name(vni))[0])[0]
        local = old.get("IFLA_LINKINFO").get("IFLA_INFO_DATA").get("IFLA_VXLAN_LOCAL")
        bridge = ipr.link_lookup(ifname=bridge_name(vni))[0]
        ipr.link("del", index=old["index"])
        ipr.link("add", ifname=vxlan_name(vni), kind="vxlan", vxlan_id=wrong, vxlan_local=local,
                 vxlan_port=4789, vxlan_learning=0, mtu=old.get("IFLA_MTU"), master=bridge)
        index = ipr.link_lookup(ifname=vxlan_name(vni))[0]
        ipr.brport("set", index=index, learning=0, unicast_flood=0, mcast_flood=0, bcast_flood=0,
                   neigh_suppress=1)
        ipr.link("set", index=index, state="up")
        for f in (f for f in host.fdb if f.ifname == vxlan_name(vni)):
            ipr.fdb("replace", ifindex=index, lladdr=f.mac, dst=f.dst, flags=ndmsg.flags["self"],
                    state=ndmsg.states["permanent"] | ndmsg.states["noarp"])
            ipr.fdb("replace", ifindex=index, lladdr=f.mac, master=bridge, flags=ndmsg.flags["master"],
                    state=ndmsg.states["noarp"])
    return f"{vxlan_name(vni)} in {ns} now sends VNI {wrong} instead of {vni}"


def flooding(plan: Plan, server: str | None = None, tenant: str | None = None) -> str:
    """Turn the VTEP into flood-and-learn: flooding on, learning on, and a
    head-end replication entry to every other VTEP of the tenant."""
    ns, vni = _server_tenant(plan, server, tenant)
    host = next(h for h in plan.hosts if h.namespace == ns)
    remotes = sorted({f.dst for f in host.fdb if f.ifname == vxlan_name(vni)})
    with Sockets() as sockets:
        ipr = sockets(ns)
        index = ipr.link_lookup(ifname=vxlan_name(vni))[0]
        ipr.brport("set", index=index, learning=1, unicast_flood=1, mcast_flood=1, bcast_flood=1)
        for dst in remotes:
            ipr.fdb("append", ifindex=index, lladdr=FLOOD_MAC, dst=dst,
                    flags=ndmsg.flags["self"], state=ndmsg.states["permanent"] | ndmsg.states["noarp"])
    return f"{vxlan_name(vni)} in {ns} floods to {', '.join(remotes)} with learning on"


def fdb_missing(plan: Plan, server: str | None = None, tenant: str | None = None) -> str:
    """Learning on, and one remote endpoint's static FDB entries removed."""
    ns, vni = _server_tenant(plan, server, tenant)
    host = next(h for h in plan.hosts if h.namespace == ns)
    victim = next(f for f in host.fdb if f.ifname == vxlan_name(vni)
                  and any(e.mac == f.mac for e in plan.endpoints))
    with Sockets() as sockets:
        ipr = sockets(ns)
        index = ipr.link_lookup(ifname=vxlan_name(vni))[0]
        master = ipr.get_links(index)[0].get("IFLA_MASTER")
        ipr.brport("set", index=index, learning=1)
        ipr.fdb("del", ifindex=index, lladdr=victim.mac, dst=victim.dst, flags=ndmsg.flags["self"])
        ipr.fdb("del", ifindex=index, lladdr=victim.mac, master=master, flags=ndmsg.flags["master"])
    owner = next(e.name for e in plan.endpoints if e.mac == victim.mac)
    return f"learning on and FDB entries for {owner} ({victim.mac}) removed in {ns}"


def tenant_leak(plan: Plan, server: str | None = None, tenant: str | None = None) -> str:
    """Mis-cable a server: a veth joins two tenants' bridges, so one tenant's
    broadcasts and unknown frames reach the other's endpoints."""
    first = plan.tenants[0] if tenant is None else plan.tenant(tenant)
    other = next(t for t in plan.tenants if t.name != first.name)
    hosts = [h for h in plan.hosts if {first.vni, other.vni} <= {x.vxlan.vni for x in h.links if x.vxlan}
             and h.role == "compute" and (server is None or h.name == server)]
    if not hosts:
        raise TypeError(f"no server hosts both {first.name} and {other.name}")
    netns_sources = {e.server for e in plan.stand_ins(first.name)}
    host = next((h for h in hosts if h.name in netns_sources), hosts[0])
    with Sockets() as sockets:
        ipr = sockets(host.namespace)
        ipr.link("add", ifname="leak0", kind="veth", peer={"ifname": "leak1"})
        for end, vni in (("leak0", first.vni), ("leak1", other.vni)):
            ipr.link("set", index=ipr.link_lookup(ifname=end)[0], state="up",
                     master=ipr.link_lookup(ifname=bridge_name(vni))[0])
    return f"{bridge_name(first.vni)} and {bridge_name(other.vni)} joined by a veth on {host.name}"


def mtu_lowered(plan: Plan, server: str | None = None, mtu: int = 1500) -> str:
    """Lower a server's underlay NIC MTU: VXLAN frames of a full tenant MTU no longer fit."""
    host = plan.host(server) if server else next(h for h in plan.hosts if h.role == "compute")
    nic = next(link.name for link in host.links if link.kind == "veth" and link.master is None)
    with Sockets() as sockets:
        ipr = sockets(host.namespace)
        ipr.link("set", index=ipr.link_lookup(ifname=nic)[0], mtu=mtu)
    return f"{nic} in {host.namespace} lowered to MTU {mtu}"


FABRIC_FAULTS: dict[str, Callable[..., str]] = {
    "wrong-vni": wrong_vni,
    "flooding": flooding,
    "tenant-leak": tenant_leak,
    "fdb-missing": fdb_missing,
    "mtu-lowered": mtu_lowered,
}


FAULTS = FABRIC_FAULTS  # the fabric feature's faults (lab.features)
