"""The topology: what a lab is made of and the specs it must meet.

Field-level limits from the seeds (sizes, disk counts, 1 TB, no IPv6) are
checked here so pydantic reports all of them at once; cross-references between
sections are checked in :mod:`lab.model.checks`.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    Field,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from lab.model import seeds
from lab.model.fields import IPv4, IPv4Net, LabName, Name, Strict, about
from lab.model.problems import did_you_mean
from lab.model.sizes import DISK_TIERS, MAX_DISK_GB, VM_SIZES
from lab.model.vpn import VpnGateway


def _known_size(name: str) -> str:
    if name not in VM_SIZES:
        raise ValueError(f"unknown VM size '{name}'{did_you_mean(name, VM_SIZES)}; valid sizes: {', '.join(VM_SIZES)}")
    return name


def _within_max_disk(size_gb: int) -> int:
    if size_gb > MAX_DISK_GB:
        raise ValueError(
            f"{size_gb} GB is too large: the maximum disk size is {MAX_DISK_GB} GB (1 TB)"
        )
    return size_gb


def _dsr_only(value: bool) -> bool:
    if not value:
        raise ValueError(
            "false is not supported: the SLB is direct server return by design (replies go from the "
            "backend straight to the client, never back through the MUX); remove dsr or set it to true"
        )
    return value


class Nic(Strict):
    """A network interface of a server."""

    name: Annotated[
        str, Field(pattern=r"^[a-z][a-z0-9]*$", max_length=15), about("Interface name on the server (Linux rules).")
    ] = "eth0"
    speed_gbps: Annotated[int, Field(gt=0, le=800), about("Link speed in Gb/s (drawn by `lab graph`).")] = 25
    rdma: Annotated[bool, about("RDMA-capable (RoCE): `lab verify --only rdma` runs perftest for it.",
                                seeds.RDMA)] = False


class Underlay(Strict):
    """The servers' L2 network behind the ToR; VXLAN runs over it."""

    subnet: Annotated[IPv4Net, about("Server addresses; the ToR is .1, servers from .11.", seeds.FABRIC)] = (
        ipaddress.ip_network("198.18.0.0/24")
    )
    mtu: Annotated[
        int, Field(ge=1280, le=9216), about("Underlay MTU; a tenant MTU must leave 50 bytes for VXLAN.", seeds.VXLAN)
    ] = 9000


class Tor(Strict):
    """The top-of-rack router between the servers and the outside."""

    name: Annotated[Name, about("Host name of the ToR (its namespace is `<lab>.<name>`).", seeds.FABRIC)] = "tor"
    asn: Annotated[
        int, Field(ge=1, le=4294967295), about("BGP AS number of the ToR (Ansible inventory; BGP to the MUXes).",
                                               seeds.FABRIC)
    ] = 65000
    routing: Annotated[
        Literal["bgp", "static"],
        about("How the ToR learns the VIPs: bgp (every MUX announces the VIPs it can serve; the ToR spreads "
              "over them by ECMP and drops a MUX on BFD loss) or static (a /32 per VIP to its first MUX and "
              "the pool to the first MUX; no routing daemons).", seeds.FABRIC)] = "bgp"
    mux_asn: Annotated[
        int, Field(ge=1, le=4294967295),
        about("BGP AS number shared by all MUXes (the MUX pool is one AS: eBGP to the ToR, and a MUX never "
              "accepts another MUX's VIPs back).", seeds.FABRIC)] = 65100
    maximum_paths: Annotated[
        int, Field(ge=1, le=64), about("ECMP next hops the ToR installs per VIP (maximum-paths).",
                                       seeds.FABRIC)] = 16
    bfd_interval_ms: Annotated[
        int, Field(ge=10, le=60000),
        about("BFD transmit and receive interval between the ToR and each MUX, in milliseconds.",
              seeds.FABRIC)] = 100
    bfd_multiplier: Annotated[
        int, Field(ge=2, le=255),
        about("Missed BFD packets before the ToR drops a MUX's routes (detection = interval x this).",
              seeds.FABRIC)] = 3


class External(Strict):
    """The internet side: a client network routed through the ToR, and the
    pool the ToR routes to the MUXes (a VIP outside it is not routable)."""

    subnet: Annotated[IPv4Net, about("The client network routed through the ToR.", seeds.FABRIC)] = (
        ipaddress.ip_network("198.51.100.0/24")
    )
    client_address: Annotated[
        IPv4 | None, about("Address of the client namespace (default: the subnet's .10).", seeds.FABRIC)
    ] = None
    vip_pool: Annotated[IPv4Net, about("VIPs the ToR routes to the MUXes; every VIP lies in it.", seeds.SLB)] = (
        ipaddress.ip_network("192.0.2.0/24")
    )


class Server(Strict):
    """A physical server: a Hyper-V/S2D node (compute) or an SLB MUX host (mux)."""

    name: Annotated[Name, about("Host name; its namespace is `<lab>.<name>`.", seeds.HCI)]
    role: Annotated[
        Literal["compute", "mux"], about("compute runs VMs and storage; mux runs the load balancer.", seeds.HCI)
    ] = "compute"
    cluster: Annotated[Name, about("Storage cluster of a compute server (at most 12 compute servers each).",
                                   seeds.HCI)] = "s2d"
    nics: Annotated[list[Nic], Field(min_length=1), about("The server's NICs; the first carries the underlay.")] = (
        Field(default_factory=lambda: [Nic()])
    )
    address: Annotated[IPv4 | None, about("Underlay address (default: assigned from underlay.subnet).",
                                          seeds.FABRIC)] = None


class Subnet(Strict):
    """A subnet of a tenant's virtual network; its gateway is the .1."""

    name: Annotated[Name, about("Subnet name, unique within the tenant.", seeds.TENANT)]
    prefix: Annotated[IPv4Net, about("IPv4 prefix, at most /29; may overlap other tenants' subnets.",
                                     seeds.TENANT)]


class Tenant(Strict):
    """A tenant's virtual network: one VXLAN segment over the underlay."""

    name: Annotated[Name, about("Tenant name (its gateway namespace is `<lab>.gw.<name>`).", seeds.TENANT)]
    vni: Annotated[int, Field(ge=1, le=16777215), about("VXLAN network identifier, unique per tenant.", seeds.VXLAN)]
    subnets: Annotated[list[Subnet], Field(min_length=1), about("The tenant's subnets.", seeds.TENANT)]
    mtu: Annotated[int, Field(ge=576, le=9000), about("MTU inside the tenant network (<= underlay.mtu - 50).",
                                                      seeds.VXLAN)] = 1500


class DataDisk(Strict):
    """A data disk of a VM, with the IOPS cap of its tier."""

    name: Annotated[Name, about("Disk name, unique within the VM.", seeds.DISKS)]
    size_gb: Annotated[int, Field(ge=1), AfterValidator(_within_max_disk),
                       about("Size in GB (at most 1023: 1 TB).", seeds.DISKS, maximum=MAX_DISK_GB)] = 1
    tier: Annotated[Literal[tuple(DISK_TIERS)],  # type: ignore[valid-type]
                    about("standard: capped at 500 IOPS by the hypervisor; premium: uncapped (the control).",
                          seeds.DISKS)] = "standard"
    resiliency: Annotated[
        Literal["simple", "mirror3"],
        about("simple: one image file on the VM's server; mirror3: three copies on three compute servers of "
              "the VM's cluster, voted by a QEMU quorum (2 of 3) and exported to the VM (the tier's IOPS cap "
              "still applies). The embedded mirror survives one server loss; the seed's survives two.",
              seeds.MIRROR)] = "simple"

    @property
    def iops_cap(self) -> int | None:
        return DISK_TIERS[self.tier]


class Vm(Strict):
    """A tenant endpoint. kind=vm is a libvirt/QEMU guest; kind=netns is a
    lightweight stand-in (a namespace) for fabric-only labs and benchmarks."""

    name: Annotated[Name, about("VM name, unique in the lab (the guest's host name).", seeds.VM)]
    tenant: Annotated[Name, about("The tenant whose network the VM joins.", seeds.TENANT)]
    subnet: Annotated[Name | None, about("Subnet of the tenant (default: its first).", seeds.TENANT)] = None
    server: Annotated[Name | Literal["auto"], about("Compute server it runs on; auto spreads VMs over them.",
                                                    seeds.HCI)] = "auto"
    kind: Annotated[Literal["vm", "netns"], about("vm: a libvirt/QEMU guest; netns: a namespace stand-in.")] = "vm"
    size: Annotated[str, AfterValidator(_known_size),
                    WithJsonSchema({"type": "string", "enum": list(VM_SIZES)}),
                    about("Azure VM size: cores, memory (scaled down /16 embedded) and the data disk limit.",
                          seeds.SIZES)] = "Standard_DS1_v2"
    address: Annotated[IPv4 | None, about("Address in its subnet (default: assigned by the host).", seeds.DIP)] = None
    data_disks: Annotated[list[DataDisk], about("Data disks; at most the size's max_data_disks (kind: vm only).",
                                                seeds.DISKS)] = Field(default_factory=list)
    provision_script: Annotated[str | None, about("Shell script run once in the guest; non-zero exit marks "
                                                  "provisioning failed with the code (kind: vm only).",
                                                  seeds.CUSTOM_SCRIPT)] = None

    # Field validators (not a model validator) so each error points at its field
    # and is reported even when another field of the same VM is wrong.
    @field_validator("data_disks")
    @classmethod
    def _fits_size(cls, disks: list[DataDisk], info: ValidationInfo) -> list[DataDisk]:
        size = VM_SIZES.get(info.data.get("size", ""))
        if size is not None and len(disks) > size.max_data_disks:
            raise ValueError(
                f"{len(disks)} data disks, but {size.name} allows at most "
                f"{size.max_data_disks} (pick a larger size or remove disks)"
            )
        if disks and info.data.get("kind") == "netns":
            raise ValueError("data disks need kind: vm (a netns endpoint has no disks)")
        return disks

    @field_validator("provision_script")
    @classmethod
    def _script_needs_vm(cls, script: str | None, info: ValidationInfo) -> str | None:
        if script is not None and info.data.get("kind") == "netns":
            raise ValueError("provision_script needs kind: vm (a netns endpoint runs no script)")
        return script

    @property
    def is_vm(self) -> bool:
        return self.kind == "vm"


class Frontend(Strict):
    """VIP:port/protocol. port 0 with protocol all is an HA-ports rule."""

    vip: Annotated[IPv4, about("The VIP, in external.vip_pool and outside every tenant subnet.", seeds.SLB)]
    port: Annotated[int, Field(ge=0, le=65535), about("Frontend port; 0 (with protocol all) is HA ports.",
                                                      seeds.STANDARD_LB)]
    protocol: Annotated[Literal["tcp", "udp", "all"], about("tcp or udp; all only with port 0 (HA ports).",
                                                            seeds.STANDARD_LB)] = "tcp"
    backend_port: Annotated[
        Annotated[int, Field(ge=1, le=65535)] | None,
        about("Port on the backends (default: the frontend port); unique per VIP and protocol, none on HA ports.",
              seeds.SLB),
    ] = None

    @model_validator(mode="after")
    def _ha_ports_consistent(self) -> Frontend:
        if (self.port == 0) != (self.protocol == "all"):
            raise ValueError(
                "HA ports is port 0 with protocol all; a specific rule needs a port "
                "1-65535 and protocol tcp or udp"
            )
        return self

    @field_validator("backend_port")
    @classmethod
    def _no_remap_on_ha_ports(cls, port: int | None, info: ValidationInfo) -> int | None:
        if port is not None and (info.data.get("port") == 0 or info.data.get("protocol") == "all"):
            raise ValueError("an HA-ports rule (port 0, protocol all) forwards every port unchanged: drop backend_port")
        return port

    @property
    def is_ha_ports(self) -> bool:
        return self.port == 0


class Probe(Strict):
    """Health probe; defaults follow Azure LB (interval 5 s, 2 failures)."""

    protocol: Annotated[Literal["tcp", "http"], about("tcp: connect; http: GET path, 2xx is healthy.",
                                                      seeds.PROBES)] = "tcp"
    port: Annotated[int, Field(ge=1, le=65535), about("Port probed on each backend.", seeds.PROBES)] = 80
    path: Annotated[str, about("HTTP path (protocol http).", seeds.PROBES)] = "/"
    interval_s: Annotated[float, Field(gt=0, le=300), about("Seconds between probes.", seeds.PROBES)] = 5.0
    threshold: Annotated[int, Field(ge=1, le=100), about("Consecutive failures before a backend is down.",
                                                         seeds.PROBES)] = 2


class LoadBalancer(Strict):
    """A load balancer of a tenant: frontends (VIP rules) over a pool of the tenant's VMs."""

    name: Annotated[Name, about("Load balancer name, unique in the lab.", seeds.SLB)]
    tenant: Annotated[Name, about("The tenant whose VMs are the backends.", seeds.SLB)]
    mux: Annotated[Name | None, about("The mux server that carries it (default: the first mux).", seeds.SLB)] = None
    muxes: Annotated[
        list[Name],
        about("Several mux servers that all carry it (instead of mux): each announces its VIPs over BGP and "
              "builds the same Maglev ring, so the ToR spreads flows over them (needs tor.routing: bgp).",
              seeds.SLB)] = Field(default_factory=list)
    frontends: Annotated[list[Frontend], Field(min_length=1), about("VIP rules; several per LB.",
                                                                    seeds.STANDARD_LB)]
    backends: Annotated[list[Name], Field(min_length=1), about("VM names of the backend pool (DIPs).", seeds.SLB)]
    probe: Annotated[Probe, about("Health probe of the backends.", seeds.PROBES)] = Field(default_factory=Probe)
    ring_size: Annotated[int, Field(ge=7, le=1000003), about("Maglev lookup table size (a prime).")] = 65537


class Specs(Strict):
    """Target specs that `lab verify` checks the running lab against."""

    mtu: Annotated[Annotated[int, Field(ge=576, le=9000)] | None,
                   about("Packet size (DF set) that must cross the overlay (default: each tenant's mtu).",
                         seeds.VXLAN)] = None
    isolation: Annotated[bool, about("Tenants must not reach each other.", seeds.TENANT)] = True
    no_flooding: Annotated[bool, about("No broadcast or unknown unicast is flooded between VTEPs.",
                                       seeds.VXLAN)] = True
    iops_tolerance_pct: Annotated[float, Field(gt=0, le=100), about("How far (%) measured IOPS may exceed a cap.",
                                                                    seeds.DISKS)] = 5.0
    dsr: Annotated[bool, AfterValidator(_dsr_only), WithJsonSchema({"type": "boolean", "const": True}),
                   about("Replies go from the backend straight to the client; only true.", seeds.DSR)] = True
    failover_s: Annotated[float, Field(gt=0), about("Seconds until a failed backend gets no new flows.",
                                                    seeds.PROBES)] = 15.0
    mux_failover_s: Annotated[float, Field(gt=0), about("Seconds until flows to a VIP continue through the "
                                                        "other MUXes when one MUX fails.", seeds.SLB)] = 1.0
    mux_failover_moved_pct: Annotated[
        float, Field(ge=0, le=100), about("Most established TCP flows (%) that may change backend when a MUX "
                                          "fails (every MUX builds the same ring).", seeds.SLB)] = 1.0
    lb_chi_square_p: Annotated[float, Field(gt=0, lt=1), about("Least p-value of the chi-square test that "
                                                               "flows spread evenly over backends.")] = 0.001
    secret_max_age_h: Annotated[float, Field(gt=0, le=8760),
                                about("Hours a lab secret (BMC credentials...) may live before `lab secrets "
                                      "rotate`; `baseline.secrets.age` fails past it (the seed rotates every 24 h).",
                                      seeds.SECRETS)] = 24.0
    vpn_failover_s: Annotated[float, Field(gt=0, le=600),
                              about("Seconds from the failure of a pair's active VPN gateway until the site "
                                    "reaches the tenant again through the standby (the seed: 10-15 s planned, "
                                    "up to minutes unplanned).", seeds.VPN)] = 10.0


class Topology(Strict):
    """A lab: a rack of servers behind a ToR, tenants, VMs, load balancers, and the specs it must meet."""

    name: Annotated[LabName, about("Lab name: the prefix of every namespace, domain and file of the lab.")]
    underlay: Annotated[Underlay, about("The servers' network.", seeds.FABRIC)] = Field(default_factory=Underlay)
    tor: Annotated[Tor, about("The top-of-rack router.", seeds.FABRIC)] = Field(default_factory=Tor)
    external: Annotated[External, about("The client side and the VIP pool.", seeds.SLB)] = Field(
        default_factory=External)
    servers: Annotated[list[Server], Field(min_length=1), about("Compute and mux servers.", seeds.HCI)]
    tenants: Annotated[list[Tenant], about("Tenant virtual networks.", seeds.TENANT)] = Field(default_factory=list)
    vms: Annotated[list[Vm], about("Tenant endpoints: VMs and namespace stand-ins.", seeds.VM)] = Field(
        default_factory=list)
    load_balancers: Annotated[list[LoadBalancer], about("Software load balancers on the muxes.", seeds.SLB)] = (
        Field(default_factory=list))
    vpn_gateways: Annotated[list[VpnGateway], about("Site-to-site VPN gateways joining tenant networks to "
                                                    "on-premises sites.", seeds.VPN)] = Field(default_factory=list)
    specs: Annotated[Specs, about("What `lab verify` holds the running lab to.")] = Field(default_factory=Specs)

    def server(self, name: str) -> Server:
        return next(s for s in self.servers if s.name == name)

    def tenant(self, name: str) -> Tenant:
        return next(t for t in self.tenants if t.name == name)

    def vm(self, name: str) -> Vm:
        return next(v for v in self.vms if v.name == name)
