"""What the load balancers of a lab need, derived from the topology's LB
section and the fabric plan. Pure: the control plane programs exactly this.
"""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import BaseModel, ConfigDict

from lab.model.topology import LoadBalancer, Probe
from lab.plan.model import Plan

PROTO_NUMBERS = {"tcp": 6, "udp": 17, "all": 0}
ETH_HEADER = 14


class SpecModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BackendSpec(SpecModel):
    name: str  # the VM (DIP) name; also the Maglev key, so rings survive restarts
    kind: Literal["vm", "netns"]
    address: str
    mac: str
    vni: int
    server: str
    server_underlay_ip: str
    server_mac: str  # outer destination: the server is on the MUX's underlay segment
    gateway_mac: str  # inner source: the tenant gateway, as if routed by it
    namespace: str | None  # the endpoint namespace (netns backends), for the VIP on lo


class FrontendSpec(SpecModel):
    vip: str
    port: int
    protocol: Literal["tcp", "udp", "all"]

    @property
    def proto(self) -> int:
        return PROTO_NUMBERS[self.protocol]

    def label(self) -> str:
        return f"{self.vip}:{self.port or '*'}/{self.protocol}"


class LbSpec(SpecModel):
    name: str
    tenant: str
    gateway_namespace: str  # probes run here: it reaches every tenant address
    frontends: list[FrontendSpec]
    backends: list[BackendSpec]
    probe: Probe
    ring_size: int


class MuxSpec(SpecModel):
    lab: str
    name: str
    namespace: str
    ifname: str
    underlay_ip: str
    mac: str
    tor_namespace: str
    tor_port: str  # the ToR's veth facing the MUX: needs an XDP program for XDP_TX frames
    vip_pool: str
    max_frame: int
    lbs: list[LbSpec]

    def lb(self, name: str) -> LbSpec:
        return next(lb for lb in self.lbs if lb.name == name)


def _link_mac(plan: Plan, host: str, ifname: str) -> str:
    link = next(link for link in plan.host(host).links if link.name == ifname)
    if link.mac is None:
        raise ValueError(f"{host}/{ifname} has no planned MAC")
    return link.mac


def _underlay_nic(plan: Plan, host: str) -> str:
    hp = plan.host(host)
    return next(a.ifname for a in hp.addresses if a.cidr.split("/")[0] == hp.underlay_ip)


def backend_spec(plan: Plan, vm: str) -> BackendSpec:
    ep = plan.endpoint(vm)
    tenant = plan.tenant(ep.tenant)
    return BackendSpec(
        name=ep.name, kind=ep.kind, address=ep.address, mac=ep.mac, vni=ep.vni,
        server=ep.server, server_underlay_ip=ep.server_underlay_ip,
        server_mac=_link_mac(plan, ep.server, _underlay_nic(plan, ep.server)),
        gateway_mac=tenant.gateway_mac,
        namespace=f"{plan.lab}.ep.{ep.name}" if ep.kind == "netns" else None,
    )


def lb_spec(plan: Plan, lb: LoadBalancer) -> LbSpec:
    tenant = plan.tenant(lb.tenant)
    return LbSpec(
        name=lb.name, tenant=lb.tenant,
        gateway_namespace=plan.host(tenant.gateway_host).namespace,
        frontends=[FrontendSpec(vip=str(f.vip), port=f.port, protocol=f.protocol)
                   for f in lb.frontends],
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
        nic = _underlay_nic(plan, mux.name)
        tor_port = next(link.name for link in tor.links if link.peer and link.peer.host == mux.name)
        result.append(MuxSpec(
            lab=plan.lab, name=mux.name, namespace=mux.namespace, ifname=nic,
            underlay_ip=mux.underlay_ip or "", mac=_link_mac(plan, mux.name, nic),
            tor_namespace=tor.namespace, tor_port=tor_port, vip_pool=plan.vip_pool,
            max_frame=plan.underlay_mtu + ETH_HEADER,
            lbs=[lb_spec(plan, lb) for lb in mine],
        ))
    return result


def check_vip(mux: MuxSpec, vip: str) -> None:
    """Runtime adds get the same check the topology loader makes."""
    if ipaddress.IPv4Address(vip) not in ipaddress.IPv4Network(mux.vip_pool):
        raise ValueError(f"VIP {vip} is outside the VIP pool {mux.vip_pool} the ToR routes to "
                         f"{mux.name}")
