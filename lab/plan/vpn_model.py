"""The VPN part of the plan as data: per VPN gateway its gateway instances
(one, or active and standby), the on-premises site and what the tunnel joins
(built by lab.plan.vpn). Keys and pre-shared keys are never in the plan: it
names the lab secret that holds them (lab.ops.secrets)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

WIREGUARD_PORT = 51820
IKE_PORT = 500  # NAT-T and kernel-libipsec's ESP-in-UDP: 4500
ROUTE_PROTOCOL = 90  # kernel route protocol of the VPN's routes: the fabric's applier (static, 4) leaves them


class VpnPlanModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class VpnInstanceSpec(VpnPlanModel):
    """One gateway namespace: a VTEP of the tenant with an address in each of
    its subnets (kernel-libipsec routes a traffic selector only from a local
    address inside it), and its public (underlay) address where the tunnel ends."""

    host: str
    namespace: str
    role: Literal["active", "standby"]
    public_address: str
    tenant_addresses: list[str]  # CIDR, one per tenant subnet in the tenant's order
    mac: str
    ifname: str  # the tunnel's TUN device (wireguard-go's, or kernel-libipsec's ipsec0)

    @property
    def tenant_address(self) -> str:
        """In the first subnet: the tenant gateway routes the site to it."""
        return self.tenant_addresses[0].split("/")[0]


class SiteSpec(VpnPlanModel):
    """The on-premises site: its VPN device on the external network, its
    network on a LAN bridge (the first address of the subnet is the device's)."""

    host: str
    namespace: str
    public_address: str
    lan_address: str
    subnet: str
    ifname: str


class VpnSpec(VpnPlanModel):
    name: str
    lab: str
    tenant: str
    protocol: Literal["ikev2", "wireguard"]
    pair: bool
    vni: int
    tenant_subnets: list[str]
    site_subnet: str
    tenant_gateway: str  # the tenant gateway's host: it routes the site subnet to the serving instance
    tenant_gateway_namespace: str
    instances: list[VpnInstanceSpec]  # the active first
    site: SiteSpec
    secret: str  # the lab secret with the keys (wireguard) or the pre-shared key (ikev2)
    port: int
    keepalive_s: int  # WireGuard persistent keepalive of the serving gateway; IKE dead peer detection
    route_protocol: int = ROUTE_PROTOCOL

    def instance(self, host: str) -> VpnInstanceSpec:
        return next(i for i in self.instances if i.host == host)

    @property
    def active(self) -> VpnInstanceSpec:
        return self.instances[0]
