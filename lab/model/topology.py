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
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from lab.model.sizes import DISK_TIERS, MAX_DISK_GB, VM_SIZES

NAME_PATTERN = r"^[a-z][a-z0-9-]*$"
Name = Annotated[str, Field(pattern=NAME_PATTERN, min_length=1, max_length=32)]
LabName = Annotated[str, Field(pattern=NAME_PATTERN, min_length=1, max_length=12)]


def _v4_address(value: object) -> ipaddress.IPv4Address:
    text = str(value)
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        raise ValueError(f"'{text}' is not an IPv4 address (e.g. 198.18.0.11)") from None
    if addr.version == 6:
        raise ValueError(f"'{text}' is IPv6: IPv6 is not supported (Azure Stack has no IPv6)")
    return addr  # type: ignore[return-value]


def _v4_network(value: object) -> ipaddress.IPv4Network:
    text = str(value)
    try:
        net = ipaddress.ip_network(text, strict=True)
    except ValueError as exc:
        raise ValueError(f"'{text}' is not an IPv4 prefix like 100.64.1.0/24 ({exc})") from None
    if net.version == 6:
        raise ValueError(f"'{text}' is IPv6: IPv6 is not supported (Azure Stack has no IPv6)")
    return net  # type: ignore[return-value]


def _known_size(name: str) -> str:
    if name not in VM_SIZES:
        raise ValueError(f"unknown VM size '{name}'; valid sizes: {', '.join(VM_SIZES)}")
    return name


def _within_max_disk(size_gb: int) -> int:
    if size_gb > MAX_DISK_GB:
        raise ValueError(
            f"{size_gb} GB is too large: the maximum disk size is {MAX_DISK_GB} GB (1 TB)"
        )
    return size_gb


IPv4 = Annotated[object, AfterValidator(_v4_address)]
IPv4Net = Annotated[object, AfterValidator(_v4_network)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Nic(Strict):
    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9]*$", max_length=15)] = "eth0"
    speed_gbps: Annotated[int, Field(gt=0, le=800)] = 25
    rdma: bool = False


class Underlay(Strict):
    subnet: IPv4Net = ipaddress.ip_network("198.18.0.0/24")
    mtu: Annotated[int, Field(ge=1280, le=9216)] = 9000


class Tor(Strict):
    name: Name = "tor"
    asn: Annotated[int, Field(ge=1, le=4294967295)] = 65000


class External(Strict):
    """The internet side: a client network routed through the ToR, and the
    pool the ToR routes to the MUXes (a VIP outside it is not routable)."""

    subnet: IPv4Net = ipaddress.ip_network("198.51.100.0/24")
    client_address: IPv4 | None = None
    vip_pool: IPv4Net = ipaddress.ip_network("192.0.2.0/24")


class Server(Strict):
    name: Name
    role: Literal["compute", "mux"] = "compute"
    cluster: Name = "s2d"
    nics: list[Nic] = Field(default_factory=lambda: [Nic()], min_length=1)
    address: IPv4 | None = None


class Subnet(Strict):
    name: Name
    prefix: IPv4Net


class Tenant(Strict):
    name: Name
    vni: Annotated[int, Field(ge=1, le=16777215)]
    subnets: list[Subnet] = Field(min_length=1)
    mtu: Annotated[int, Field(ge=576, le=9000)] = 1500


class DataDisk(Strict):
    name: Name
    size_gb: Annotated[int, Field(ge=1), AfterValidator(_within_max_disk)] = 1
    tier: Literal[tuple(DISK_TIERS)] = "standard"  # type: ignore[valid-type]

    @property
    def iops_cap(self) -> int | None:
        return DISK_TIERS[self.tier]


class Vm(Strict):
    """A tenant endpoint. kind=vm is a libvirt/QEMU guest; kind=netns is a
    lightweight stand-in (a namespace) for fabric-only labs and benchmarks."""

    name: Name
    tenant: Name
    subnet: Name | None = None
    server: Name | Literal["auto"] = "auto"
    kind: Literal["vm", "netns"] = "vm"
    size: Annotated[str, AfterValidator(_known_size)] = "Standard_DS1_v2"
    address: IPv4 | None = None
    data_disks: list[DataDisk] = Field(default_factory=list)
    provision_script: str | None = None

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


class Frontend(Strict):
    """VIP:port/protocol. port 0 with protocol all is an HA-ports rule."""

    vip: IPv4
    port: Annotated[int, Field(ge=0, le=65535)]
    protocol: Literal["tcp", "udp", "all"] = "tcp"
    backend_port: Annotated[int, Field(ge=1, le=65535)] | None = None

    @model_validator(mode="after")
    def _ha_ports_consistent(self) -> Frontend:
        if (self.port == 0) != (self.protocol == "all"):
            raise ValueError(
                "HA ports is port 0 with protocol all; a specific rule needs a port "
                "1-65535 and protocol tcp or udp"
            )
        if self.port == 0 and self.backend_port is not None:
            raise ValueError("an HA-ports rule forwards every port: drop backend_port")
        return self

    @property
    def is_ha_ports(self) -> bool:
        return self.port == 0


class Probe(Strict):
    """Health probe; defaults follow Azure LB (interval 5 s, 2 failures)."""

    protocol: Literal["tcp", "http"] = "tcp"
    port: Annotated[int, Field(ge=1, le=65535)] = 80
    path: str = "/"
    interval_s: Annotated[float, Field(gt=0, le=300)] = 5.0
    threshold: Annotated[int, Field(ge=1, le=100)] = 2


class LoadBalancer(Strict):
    name: Name
    tenant: Name
    mux: Name | None = None
    frontends: list[Frontend] = Field(min_length=1)
    backends: list[Name] = Field(min_length=1)
    probe: Probe = Field(default_factory=Probe)
    ring_size: Annotated[int, Field(ge=7, le=1000003)] = 65537


class Specs(Strict):
    """Target specs that `lab verify` checks the running lab against."""

    mtu: Annotated[int, Field(ge=576, le=9000)] | None = None
    isolation: bool = True
    no_flooding: bool = True
    iops_tolerance_pct: Annotated[float, Field(gt=0, le=100)] = 5.0
    dsr: bool = True
    failover_s: Annotated[float, Field(gt=0)] = 15.0
    lb_chi_square_p: Annotated[float, Field(gt=0, lt=1)] = 0.001
    secret_max_age_h: Annotated[float, Field(
        gt=0, le=8760, description="Hours a lab secret (BMC credentials...) may live before "
        "`lab secrets rotate`; `baseline.secret_age` fails past it (the seed rotates every 24 h)")] = 24.0


class Topology(Strict):
    name: LabName
    underlay: Underlay = Field(default_factory=Underlay)
    tor: Tor = Field(default_factory=Tor)
    external: External = Field(default_factory=External)
    servers: list[Server] = Field(min_length=1)
    tenants: list[Tenant] = Field(default_factory=list)
    vms: list[Vm] = Field(default_factory=list)
    load_balancers: list[LoadBalancer] = Field(default_factory=list)
    specs: Specs = Field(default_factory=Specs)

    def server(self, name: str) -> Server:
        return next(s for s in self.servers if s.name == name)

    def tenant(self, name: str) -> Tenant:
        return next(t for t in self.tenants if t.name == name)

    def vm(self, name: str) -> Vm:
        return next(v for v in self.vms if v.name == name)
