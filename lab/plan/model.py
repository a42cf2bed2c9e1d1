"""Desired state, per host, as the planner computes it and the appliers apply it.

Every kernel object a host should have is listed here with the attributes that
matter, so an applier can diff it against what exists and change only the
difference. Plain data: dumpable to JSON/YAML by `lab plan`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from lab.model.topology import LoadBalancer, Specs
from lab.plan.lb_model import BfdSpec, MuxSpec, TorBgpSpec
from lab.plan.vpn_model import VpnSpec

HostRole = Literal["tor", "compute", "mux", "client", "gateway", "endpoint", "vpn", "site"]


class PlanModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class VethPeer(PlanModel):
    """The other end of a veth: an interface in another host's namespace."""

    host: str
    name: str


class VxlanOpts(PlanModel):
    vni: int
    local: str
    port: int = 4789
    learning: bool = False


class LinkSpec(PlanModel):
    name: str
    kind: Literal["veth", "bridge", "vxlan", "dummy"]
    mtu: int
    mac: str | None = None
    master: str | None = None
    peer: VethPeer | None = None  # set on the end that creates the pair
    vxlan: VxlanOpts | None = None
    # bridge port flags (for a port with a master): no flooding, ARP suppression
    learning: bool = True
    flood: bool = True
    neigh_suppress: bool = False


class AddressSpec(PlanModel):
    ifname: str
    cidr: str


class RouteSpec(PlanModel):
    dst: str  # "default" or a prefix
    via: str


class FdbSpec(PlanModel):
    """A static VXLAN forwarding entry: MAC behind the remote VTEP `dst`."""

    ifname: str
    mac: str
    dst: str


class NeighSpec(PlanModel):
    """A permanent neighbour entry (IP -> MAC) for ARP suppression on a bridge."""

    ifname: str
    ip: str
    mac: str


class SnatSpec(PlanModel):
    """Masquerade traffic from `sources` leaving through `out_ifname`."""

    out_ifname: str
    sources: list[str]
    to_address: str


class PortMapSpec(PlanModel):
    """The SLB host agent's port rewrite for one rule (Ananta's host agent on the
    virtual switch): frames to VIP:port towards a backend on this server's
    bridges get port `backend_port`, and the backend's DSR replies from
    VIP:backend_port get `port` back. Stateless, so VMs and namespaces alike."""

    vip: str
    protocol: Literal["tcp", "udp"]
    port: int
    backend_port: int
    backends: list[str]  # the backend addresses on this server


class NicPlan(PlanModel):
    """A server NIC as the topology claims it. The first is the underlay port;
    RDMA settings (RoCEv2, PFC/ECN) are applied by the Ansible rdma_nic role on
    real servers and measured by the rdma check wherever an RDMA device exists."""

    name: str
    speed_gbps: int
    rdma: bool


class HostPlan(PlanModel):
    name: str
    role: HostRole
    namespace: str
    underlay_ip: str | None = None
    links: list[LinkSpec] = Field(default_factory=list)
    addresses: list[AddressSpec] = Field(default_factory=list)
    routes: list[RouteSpec] = Field(default_factory=list)
    fdb: list[FdbSpec] = Field(default_factory=list)
    neighbours: list[NeighSpec] = Field(default_factory=list)
    sysctls: dict[str, str] = Field(default_factory=dict)
    snat: list[SnatSpec] = Field(default_factory=list)
    port_maps: list[PortMapSpec] = Field(default_factory=list)
    nics: list[NicPlan] = Field(default_factory=list)  # servers: as claimed by the topology
    cluster: str | None = None  # servers: the storage cluster (VM placement, mirror legs on compute)


class MirrorLegPlan(PlanModel):
    """One copy of a mirrored disk: a raw file on a compute server, exported
    by that server's storage daemon over NBD on its underlay address."""

    server: str
    namespace: str
    address: str  # the server's underlay address the NBD server listens on
    port: int
    export: str  # NBD export name
    node: str  # QEMU block node name of the leg (unique in the lab, <= 31 characters)
    path: str  # leg file, relative to the lab directory


class DiskPlan(PlanModel):
    name: str
    size_gb: int
    tier: str
    iops_cap: int | None
    dev: str = ""  # guest device (vdb, vdc, ...; vda is the OS disk)
    path: str = ""  # image file, relative to the lab directory (simple disks)
    resiliency: Literal["simple", "mirror3"] = "simple"
    legs: list[MirrorLegPlan] = Field(default_factory=list)  # mirror3: three legs on three servers
    vote_threshold: int = 0  # mirror3: legs that must agree for a read or write to succeed
    quorum_socket: str = ""  # mirror3: the quorum's NBD unix socket the VM's disk opens, relative to the lab dir


class EndpointPlan(PlanModel):
    """A tenant endpoint (VM or namespace stand-in) and where it plugs in."""

    name: str
    kind: Literal["vm", "netns"]
    tenant: str
    vni: int
    subnet: str
    address: str  # plain IPv4
    prefixlen: int
    gateway: str
    mac: str
    mtu: int
    server: str
    server_namespace: str
    namespace: str | None = None  # the stand-in's own namespace (netns endpoints)
    server_underlay_ip: str
    bridge: str  # tenant bridge in the server namespace
    port: str  # the endpoint's port on that bridge (veth peer or tap name)
    size: str
    cores: int
    memory_mb: int
    data_disks: list[DiskPlan] = Field(default_factory=list)
    provision_script: str | None = None

    @property
    def is_vm(self) -> bool:
        """A libvirt guest (compute's, with disks and a tap); else a namespace
        stand-in with a `namespace` of its own."""
        return self.kind == "vm"


class TenantPlan(PlanModel):
    name: str
    vni: int
    mtu: int
    subnets: dict[str, str]  # name -> prefix
    gateway_host: str
    gateway_mac: str
    gateway_underlay_ip: str


class BmcPlan(PlanModel):
    """One server's Redfish BMC, an endpoint of the lifecycle host's emulator
    on the out-of-band network (the lifecycle host's own namespace). Its
    Redfish Systems: the server itself (a namespace: power modelled, see
    docs/ops.md) and the server's VMs (libvirt domains)."""

    server: str
    address: str
    port: int
    namespace: str  # the server's namespace, where its power model acts
    vms: list[str] = Field(default_factory=list)


class LifecycleHostPlan(PlanModel):
    """The hardware lifecycle host: a namespace of its own, not routed to the
    data network (as BMC ports sit on a separate management switch), running
    one Redfish emulator with one BMC endpoint per server."""

    namespace: str
    bmcs: list[BmcPlan] = Field(default_factory=list)

    def bmc(self, server: str) -> BmcPlan:
        return next(b for b in self.bmcs if b.server == server)


class TorPlan(PlanModel):
    """The ToR's routing parameters as the topology sets them, whether or not
    a MUX peers with it: a real ToR's FRR (Ansible tor role) uses them too."""

    name: str
    asn: int
    maximum_paths: int  # ECMP next hops per VIP
    bfd: BfdSpec


class Plan(PlanModel):
    lab: str
    mark: str  # ownership mark set as ifalias on every link and on each namespace's lo
    underlay_subnet: str
    underlay_mtu: int
    tor_underlay_ip: str
    tor_underlay_mac: str
    tor: TorPlan
    client_address: str
    external_subnet: str  # the client network routed through the ToR
    vip_pool: str
    hosts: list[HostPlan]
    endpoints: list[EndpointPlan]
    tenants: list[TenantPlan]
    load_balancers: list[LoadBalancer] = Field(default_factory=list)  # the topology's LB section
    muxes: list[MuxSpec] = Field(default_factory=list)  # what lab.lb installs, per MUX
    bgp: TorBgpSpec | None = None  # the ToR's BGP to the MUXes (tor.routing: bgp and an LB planned)
    vpns: list[VpnSpec] = Field(default_factory=list)  # site-to-site VPN gateways (lab.plan.vpn)
    specs: Specs = Field(default_factory=Specs)  # the targets `lab verify` checks against
    lifecycle_host: LifecycleHostPlan | None = None  # the BMCs (lab.plan.hlh)

    def host(self, name: str) -> HostPlan:
        return next(h for h in self.hosts if h.name == name)

    def servers(self) -> list[HostPlan]:
        """The compute servers and MUXes, in topology order."""
        return [h for h in self.hosts if h.role in ("compute", "mux")]

    def endpoint(self, name: str) -> EndpointPlan:
        return next(e for e in self.endpoints if e.name == name)

    def vms(self, server: str | None = None) -> list[EndpointPlan]:
        """The lab's VMs (on `server`), in plan order."""
        return [e for e in self.endpoints if e.is_vm and server in (None, e.server)]

    def stand_ins(self, tenant: str | None = None) -> list[EndpointPlan]:
        """The namespace stand-in endpoints (of `tenant`), in plan order."""
        return [e for e in self.endpoints if not e.is_vm and tenant in (None, e.tenant)]

    def tenant(self, name: str) -> TenantPlan:
        return next(t for t in self.tenants if t.name == name)

    def mux(self, name: str) -> MuxSpec:
        return next(m for m in self.muxes if m.name == name)

    def vpn(self, name: str) -> VpnSpec:
        return next(v for v in self.vpns if v.name == name)
