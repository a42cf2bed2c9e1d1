"""The load-balancer part of the plan as data: one datapath per MUX that
carries an LB, with everything its control plane, the host agents and the
checks need (built by lab.plan.lb)."""

from __future__ import annotations

import ipaddress
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, model_validator

from lab.model.topology import Probe

PROTO_NUMBERS = {"tcp": 6, "udp": 17, "all": 0}


class LbPlanModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BackendSpec(LbPlanModel):
    name: str  # the endpoint (DIP) name; also the Maglev key, so rings survive restarts
    kind: Literal["vm", "netns"]
    address: str
    mac: str
    vni: int
    server: str
    server_namespace: str = ""  # the server whose bridge the backend hangs off (host agent)
    server_underlay_ip: str
    server_mac: str  # outer destination: the server is on the MUX's underlay segment
    gateway_mac: str  # inner source: the tenant gateway, as if routed by it
    namespace: str | None  # the endpoint namespace (netns backends), for the VIP on lo

    @property
    def vm(self) -> str | None:
        """The libvirt VM behind this backend, if it is one."""
        return self.name if self.kind == "vm" else None


class FrontendSpec(LbPlanModel):
    vip: str
    port: int
    protocol: Literal["tcp", "udp", "all"]
    proto: int = -1  # IP protocol number (0: any, the HA-ports rule); filled from `protocol`
    backend_port: int | None = None  # the port backends listen on, when it differs from `port`

    @model_validator(mode="before")
    @classmethod
    def _proto_number(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("proto", -1) == -1 and "protocol" in data:
            data = {**data, "proto": PROTO_NUMBERS[data["protocol"]]}
        return data

    @property
    def listen_port(self) -> int:
        """Where a backend answers this rule (HA ports: any port, reported as 0)."""
        return self.backend_port or self.port

    def label(self) -> str:
        remap = f"->{self.backend_port}" if self.backend_port else ""
        return f"{self.vip}:{self.port or '*'}{remap}/{self.protocol}"


class LbSpec(LbPlanModel):
    name: str
    tenant: str
    gateway_namespace: str  # probes run here: it reaches every tenant address
    frontends: list[FrontendSpec]
    backends: list[BackendSpec]
    probe: Probe
    ring_size: int


class BfdSpec(LbPlanModel):
    interval_ms: int = 100  # transmit and receive
    multiplier: int = 3

    @property
    def detect_s(self) -> float:
        return self.interval_ms * self.multiplier / 1000


class MuxBgpSpec(LbPlanModel):
    """A MUX's BGP speaker: one eBGP session to the ToR with BFD; it announces
    a /32 per VIP it can serve (lab.lb.advertise decides which)."""

    asn: int
    router_id: str
    peer: str  # the ToR's underlay address
    peer_asn: int
    bfd: BfdSpec


class BgpPeerSpec(LbPlanModel):
    name: str
    address: str
    role: Literal["compute", "mux"]


class TorBgpSpec(LbPlanModel):
    """The ToR's routing: eBGP + BFD to every MUX that carries an LB, ECMP over
    them (rendered by the Ansible tor role's template, lab.lb.frr)."""

    name: str
    namespace: str
    asn: int
    router_id: str
    underlay_subnet: str
    vip_pool: str
    external_subnet: str
    maximum_paths: int
    bfd: BfdSpec
    neighbors: list[BgpPeerSpec]


class MuxSpec(LbPlanModel):
    lab: str
    name: str
    namespace: str
    ifname: str
    underlay_ip: str
    mac: str
    tor_namespace: str
    tor_port: str  # the ToR's veth facing the MUX: needs an XDP program for XDP_TX frames
    vip_pool: str
    pool_routed: bool = True  # the ToR routes the whole pool here (else only `routed_vips`)
    routed_vips: list[str] = []  # the VIPs the ToR routes here by /32 (the planned ones)
    max_frame: int
    lbs: list[LbSpec]
    bgp: MuxBgpSpec | None = None  # None: static routing (tor.routing: static)

    def lb(self, name: str) -> LbSpec:
        return next(lb for lb in self.lbs if lb.name == name)

    def vips(self) -> list[str]:
        return sorted({fe.vip for lb in self.lbs for fe in lb.frontends})


def check_vip(mux: MuxSpec, vip: str) -> None:
    """Runtime adds get the same rules the topology loader applies, plus the
    ToR's: with BGP any MUX announces any pool address it serves; with static
    routes only the pool MUX gets every pool address, another MUX only the
    VIPs the plan routes to it."""
    if ipaddress.IPv4Address(vip) not in ipaddress.IPv4Network(mux.vip_pool):
        raise ValueError(f"VIP {vip} is outside the VIP pool {mux.vip_pool} the ToR routes to "
                         f"the MUXes")
    if not mux.pool_routed and vip not in mux.routed_vips:
        raise ValueError(f"the ToR does not route VIP {vip} to {mux.name} (only its planned VIPs "
                         f"{', '.join(mux.routed_vips)}); add a load balancer with mux: {mux.name} and "
                         "this VIP to the topology and run lab up")
