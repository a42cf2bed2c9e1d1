"""The topology's site-to-site VPN gateways: a tenant's virtual network joined
to an on-premises site through an IKEv2 or WireGuard tunnel, by one gateway
or an active/standby pair. Cross-references (tenant, overlaps, addresses)
are checked in lab.model.vpn_checks."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Literal

from pydantic import AfterValidator

from lab.model import seeds
from lab.model.fields import IPv4, IPv4Net, Name, Strict, about

# The lab never routes a real network: a site's subnet comes from the ranges
# reserved for documentation and tests (RFC 5737, RFC 2544, RFC 6598).
SITE_RANGES = tuple(ipaddress.ip_network(n) for n in (
    "192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "198.18.0.0/15", "100.64.0.0/10"))


def _in_site_ranges(net: ipaddress.IPv4Network) -> ipaddress.IPv4Network:
    if not any(net.subnet_of(r) for r in SITE_RANGES):
        raise ValueError(f"{net} is outside the ranges a lab may route; an on-premises site's subnet lies in "
                         f"{', '.join(map(str, SITE_RANGES))} (e.g. 203.0.113.0/25)")
    if net.prefixlen > 30:
        raise ValueError(f"{net} is too small: a site subnet is at most /30 (it holds the site's LAN address)")
    return net


class PeerSite(Strict):
    """The on-premises end of the tunnel (Azure's local network gateway): its
    network and the public address of its VPN device."""

    subnet: Annotated[IPv4Net, AfterValidator(_in_site_ranges),
                      about("The site's network, reached through the tunnel only; must not overlap the tenant's "
                            "subnets, the underlay, external.subnet or the VIP pool. Its first address is the "
                            "site device's LAN address.", seeds.VPN)]
    address: Annotated[IPv4 | None,
                       about("Public address of the site's VPN device, in external.subnet (default: from the top "
                             "of external.subnet down, skipping the client).", seeds.VPN)] = None


class VpnGateway(Strict):
    """A site-to-site VPN gateway of a tenant: one gateway, or an active/standby
    pair whose standby takes over the tunnel when the active fails."""

    name: Annotated[Name, about("VPN gateway name, unique in the lab (namespaces `<lab>.vpn.<name>` and "
                                "`<lab>.site.<name>`).", seeds.VPN)]
    tenant: Annotated[Name, about("The tenant whose virtual network the tunnel joins.", seeds.VPN)]
    protocol: Annotated[Literal["ikev2", "wireguard"],
                        about("ikev2: strongSwan with a pre-shared key; wireguard: WireGuard keys. The embedded "
                              "lab runs both in userspace (kernel-libipsec, wireguard-go).", seeds.VPN)] = "ikev2"
    pair: Annotated[bool, about("Two gateways, active and standby: when the active fails the standby "
                                "re-establishes the tunnel within specs.vpn_failover_s.", seeds.VPN)] = False
    peer_site: Annotated[PeerSite, about("The on-premises site at the other end.", seeds.VPN)]

