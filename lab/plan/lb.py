"""The load-balancer part of the planner: one datapath per MUX that carries
an LB (an LB may be carried by several MUXes: each builds the same Maglev
ring, so the ToR may hash a flow to any of them); servers of remapped
backends get the host agent's port rewrite (lab.apply.portmap). How the ToR
reaches the VIPs:

- bgp (default): every MUX runs a BGP speaker with BFD to the ToR and
  announces a /32 per VIP it can serve; the ToR installs up to
  `maximum-paths` next hops per VIP and hashes flows by L4 ports
  (fib_multipath_hash_policy=1). No static VIP route.
- static: a /32 per planned VIP to the MUX of its LB and the whole pool to
  the first MUX, so a VIP added at run time (`lab lb add-vip`) there is
  reachable at once.

Pure, like the whole planner.
"""

from __future__ import annotations

from collections import defaultdict

from lab.model.topology import LoadBalancer, Topology
from lab.plan.lb_model import (
    BackendSpec,
    BgpPeerSpec,
    FrontendSpec,
    LbSpec,
    MuxBgpSpec,
    MuxSpec,
    TorBgpSpec,
)
from lab.plan.model import HostPlan, Plan, PortMapSpec, RouteSpec

ETH_HEADER = 14
MULTIPATH_SYSCTLS = {"net.ipv4.fib_multipath_hash_policy": "1"}  # ECMP by L4 ports, per flow


def plan_load_balancers(plan: Plan, topo: Topology) -> Plan:
    """Per-MUX LB plans, the ToR's way to the VIPs and the servers' port maps."""
    bgp = topo.tor.routing == "bgp"
    muxes = mux_specs(plan, list(topo.load_balancers), topo if bgp else None)
    port_maps: dict[str, list[PortMapSpec]] = defaultdict(list)
    for lb in {lb.name: lb for mux in muxes for lb in mux.lbs}.values():
        for fe in lb.frontends:
            if not fe.backend_port or fe.protocol == "all":
                continue
            for server in sorted({b.server for b in lb.backends}):
                port_maps[server].append(PortMapSpec(
                    vip=fe.vip, protocol=fe.protocol, port=fe.port, backend_port=fe.backend_port,
                    backends=[b.address for b in lb.backends if b.server == server]))
    tor_bgp = tor_bgp_spec(plan, muxes) if bgp and muxes else None
    hosts = [_tor_routing(h, plan, muxes, tor_bgp) if h.role == "tor"
             else h.model_copy(update={"port_maps": port_maps.get(h.name, [])}) for h in plan.hosts]
    return plan.model_copy(update={"hosts": hosts, "muxes": muxes, "bgp": tor_bgp})


def _tor_routing(tor: HostPlan, plan: Plan, muxes: list[MuxSpec], bgp: TorBgpSpec | None) -> HostPlan:
    if bgp is not None:
        return tor.model_copy(update={"sysctls": {**tor.sysctls, **MULTIPATH_SYSCTLS}})
    routes = []
    first = next((h for h in plan.hosts if h.role == "mux"), None)
    if first is not None:
        routes.append(RouteSpec(dst=plan.vip_pool, via=first.underlay_ip or ""))
    routes += [RouteSpec(dst=f"{vip}/32", via=mux.underlay_ip) for mux in muxes for vip in mux.routed_vips]
    return tor.model_copy(update={"routes": [*tor.routes, *routes]})


def tor_bgp_spec(plan: Plan, muxes: list[MuxSpec]) -> TorBgpSpec:
    tor = plan.host(plan.tor.name)
    return TorBgpSpec(
        name=tor.name, namespace=tor.namespace, asn=plan.tor.asn, router_id=plan.tor_underlay_ip,
        underlay_subnet=plan.underlay_subnet, vip_pool=plan.vip_pool,
        external_subnet=plan.external_subnet, maximum_paths=plan.tor.maximum_paths,
        bfd=plan.tor.bfd, neighbors=[BgpPeerSpec(name=m.name, address=m.underlay_ip, role="mux") for m in muxes])


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


def carriers(lb: LoadBalancer, default: str) -> list[str]:
    """The MUXes that carry `lb`: its muxes, its mux, or the first MUX."""
    return list(lb.muxes) or [lb.mux or default]


def mux_specs(plan: Plan, lbs: list[LoadBalancer], bgp: Topology | None = None) -> list[MuxSpec]:
    """One datapath per MUX that carries at least one LB (default: the first
    MUX); with `bgp` (the topology) each gets its speaker's settings."""
    muxes = [h for h in plan.hosts if h.role == "mux"]
    if lbs and not muxes:
        raise ValueError("load balancers need a server with role: mux")
    tor = next(h for h in plan.hosts if h.role == "tor")
    result = []
    for mux in muxes:
        mine = [lb for lb in lbs if mux.name in carriers(lb, muxes[0].name)]
        if not mine:
            continue
        nic = underlay_nic(plan, mux.name)
        tor_port = next(link.name for link in tor.links if link.peer and link.peer.host == mux.name)
        lbs_here = [lb_spec(plan, lb) for lb in mine]
        speaker = None if bgp is None else MuxBgpSpec(
            asn=bgp.tor.mux_asn, router_id=mux.underlay_ip or "", peer=plan.tor_underlay_ip,
            peer_asn=plan.tor.asn, bfd=plan.tor.bfd)
        result.append(MuxSpec(
            lab=plan.lab, name=mux.name, namespace=mux.namespace, ifname=nic,
            underlay_ip=mux.underlay_ip or "", mac=_link_mac(plan, mux.name, nic),
            tor_namespace=tor.namespace, tor_port=tor_port, vip_pool=plan.vip_pool,
            pool_routed=bgp is not None or mux is muxes[0], max_frame=plan.underlay_mtu + ETH_HEADER,
            routed_vips=sorted({fe.vip for lb in lbs_here for fe in lb.frontends}), lbs=lbs_here,
            bgp=speaker,
        ))
    return result
