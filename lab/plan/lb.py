"""The load-balancer part of the planner: one datapath per MUX that carries
an LB; the ToR routes each VIP to the MUX of its own LB (a /32 each) and the
whole VIP pool to the first MUX, so a VIP added at run time (`lab lb
add-vip`) there is reachable at once; servers of remapped backends get the
host agent's port rewrite (lab.apply.portmap). Pure, like the whole planner.
"""

from __future__ import annotations

from collections import defaultdict

from lab.model.topology import LoadBalancer, Topology
from lab.plan.lb_model import BackendSpec, FrontendSpec, LbSpec, MuxSpec
from lab.plan.model import Plan, PortMapSpec, RouteSpec

ETH_HEADER = 14


def plan_load_balancers(plan: Plan, topo: Topology) -> Plan:
    """Per-MUX LB plans, the ToR's VIP routes and the servers' port maps."""
    muxes = mux_specs(plan, list(topo.load_balancers))
    port_maps: dict[str, list[PortMapSpec]] = defaultdict(list)
    routes = []
    for mux in muxes:
        routes += [RouteSpec(dst=f"{vip}/32", via=mux.underlay_ip) for vip in mux.routed_vips]
        for lb in mux.lbs:
            for fe in lb.frontends:
                if not fe.backend_port or fe.protocol == "all":
                    continue
                for server in sorted({b.server for b in lb.backends}):
                    port_maps[server].append(PortMapSpec(
                        vip=fe.vip, protocol=fe.protocol, port=fe.port, backend_port=fe.backend_port,
                        backends=[b.address for b in lb.backends if b.server == server]))
    hosts = [h.model_copy(update={"routes": [*h.routes, *routes]} if h.role == "tor"
                          else {"port_maps": port_maps.get(h.name, [])}) for h in plan.hosts]
    return plan.model_copy(update={"hosts": hosts, "muxes": muxes})


def _link_mac(plan: Plan, host: str, ifname: str) -> str:
    link = next(link for link in plan.host(host).links if link.name == ifname)
    if link.mac is None:
        raise ValueError(f"{host}/{ifname} has no planned MAC")
    return link.mac


def underlay_nic(plan: Plan, host: str) -> str:
    hp = plan.host(host)
    return next(a.ifname for a in hp.addresses if a.cidr.split("/")[0] == hp.underlay_ip)


def backend_spec(plan: Plan, name: str) -> BackendSpec:
    ep = plan.endpoint(name)
    return BackendSpec(
        name=ep.name, kind=ep.kind, address=ep.address, mac=ep.mac, vni=ep.vni,
        server=ep.server, server_namespace=ep.server_namespace,
        server_underlay_ip=ep.server_underlay_ip,
        server_mac=_link_mac(plan, ep.server, underlay_nic(plan, ep.server)),
        gateway_mac=plan.tenant(ep.tenant).gateway_mac, namespace=ep.namespace,
    )


def lb_spec(plan: Plan, lb: LoadBalancer) -> LbSpec:
    tenant = plan.tenant(lb.tenant)
    return LbSpec(
        name=lb.name, tenant=lb.tenant,
        gateway_namespace=plan.host(tenant.gateway_host).namespace,
        frontends=[FrontendSpec(vip=str(f.vip), port=f.port, protocol=f.protocol,
                                backend_port=f.backend_port) for f in lb.frontends],
        backends=[backend_spec(plan, b) for b in lb.backends],
        probe=lb.probe, ring_size=lb.ring_size,
    )


def mux_specs(plan: Plan, lbs: list[LoadBalancer]) -> list[MuxSpec]:
    """One datapath per MUX that carries at least one LB (default: the first MUX)."""
    muxes = [h for h in plan.hosts if h.role == "mux"]
    if lbs and not muxes:
        raise ValueError("load balancers need a server with role: mux")
    tor = next(h for h in plan.hosts if h.role == "tor")
    result = []
    for mux in muxes:
        mine = [lb for lb in lbs if (lb.mux or muxes[0].name) == mux.name]
        if not mine:
            continue
        nic = underlay_nic(plan, mux.name)
        tor_port = next(link.name for link in tor.links if link.peer and link.peer.host == mux.name)
        lbs_here = [lb_spec(plan, lb) for lb in mine]
        result.append(MuxSpec(
            lab=plan.lab, name=mux.name, namespace=mux.namespace, ifname=nic,
            underlay_ip=mux.underlay_ip or "", mac=_link_mac(plan, mux.name, nic),
            tor_namespace=tor.namespace, tor_port=tor_port, vip_pool=plan.vip_pool,
            pool_routed=mux is muxes[0], max_frame=plan.underlay_mtu + ETH_HEADER,
            routed_vips=sorted({fe.vip for lb in lbs_here for fe in lb.frontends}), lbs=lbs_here,
        ))
    return result
