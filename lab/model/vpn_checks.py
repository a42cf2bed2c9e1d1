"""Cross-reference checks of the VPN gateways: names, tenant, the site's
subnet against every network the lab routes, the site's public address (see
lab.model.checks for how checks run on partial topologies)."""

from __future__ import annotations

from collections.abc import Iterator
from ipaddress import IPv4Address, IPv4Network

from lab.model import problems
from lab.model.problems import Problem, format_path, indexed, may_exist
from lab.model.topology import Topology

CHECKS = problems.Registry()
_needs = CHECKS.needs
FIRST_VM_HOST = 4  # the planner's: VMs from .4, a VPN gateway from the top of the subnet down


@_needs("vpn_gateways")
def _vpn_names(t: Topology) -> Iterator[Problem]:
    names = [(i, g.name) for i, g in indexed(t.vpn_gateways)]
    yield from problems.duplicates(("vpn_gateways",), names, "VPN gateway name", "name")


@_needs("vpn_gateways", "tenants")
def _vpn_tenant(t: Topology) -> Iterator[Problem]:
    tenants = [x.name for x in t.tenants]
    for i, gw in indexed(t.vpn_gateways):
        if gw.tenant not in tenants and not may_exist(t.tenants, gw.tenant):
            yield Problem(("vpn_gateways", i, "tenant"), problems.unknown("tenant", gw.tenant, tenants))


@_needs("vpn_gateways", "tenants", "underlay", "external")
def _site_subnets(t: Topology) -> Iterator[Problem]:
    """A site subnet is reached through its tenant's tunnel only: it must not
    be a network the lab already routes, nor another site of the same tenant."""
    routed: list[tuple[str, IPv4Network]] = [
        ("underlay.subnet", t.underlay.subnet), ("external.subnet", t.external.subnet),
        ("external.vip_pool", t.external.vip_pool)]
    seen: dict[str, list[tuple[int, IPv4Network]]] = {}
    for i, gw in indexed(t.vpn_gateways):
        path, net = ("vpn_gateways", i, "peer_site", "subnet"), gw.peer_site.subnet
        clashes = [(what, other) for what, other in routed if net.overlaps(other)]
        tenant = next((x for x in t.tenants if x.name == gw.tenant), None)
        if tenant is not None:
            clashes += [(f"subnet '{s.name}' of tenant '{tenant.name}'", s.prefix) for s in tenant.subnets
                        if net.overlaps(s.prefix)]
        clashes += [(f"the site of {format_path(('vpn_gateways', j))} (same tenant)", other)
                    for j, other in seen.get(gw.tenant, []) if net.overlaps(other)]
        for what, other in clashes:
            yield Problem(path, f"{net} overlaps {what} {other}: the site must be reachable through the tunnel "
                                "only; pick a subnet of its own (e.g. from 203.0.113.0/24)")
        seen.setdefault(gw.tenant, []).append((i, net))


@_needs("vpn_gateways", "external")
def _site_addresses(t: Topology) -> Iterator[Problem]:
    ext = t.external
    client = ext.client_address or ext.subnet.network_address + 10
    reserved = {ext.subnet.network_address: "the network address", ext.subnet.broadcast_address: "the broadcast "
                "address", ext.subnet.network_address + 1: "the ToR's address", client: "the client's address"}
    taken: dict[IPv4Address, int] = {}
    for i, gw in indexed(t.vpn_gateways):
        addr, path = gw.peer_site.address, ("vpn_gateways", i, "peer_site", "address")
        if addr is None:
            continue
        if addr not in ext.subnet:
            yield Problem(path, f"{addr} is outside external.subnet {ext.subnet}: the site's VPN device is on "
                                "the external network, where the ToR reaches it")
        elif addr in reserved:
            yield Problem(path, f"{addr} is {reserved[addr]} of external.subnet {ext.subnet}; pick another")
        elif addr in taken:
            yield Problem(path, f"duplicate site address {addr} (also vpn_gateways[{taken[addr]}])")
        taken.setdefault(addr, i)
    free = ext.subnet.num_addresses - 4 - len(taken)  # network, broadcast, ToR, client
    unset = [i for i, gw in indexed(t.vpn_gateways) if gw.peer_site.address is None]
    if len(unset) > max(free, 0):
        yield Problem(("vpn_gateways", unset[0], "peer_site", "address"),
                      f"external.subnet {ext.subnet} has no free address left for this site; give "
                      "peer_site.address or use a larger external.subnet")


@_needs("vpn_gateways", "tenants", "vms")
def _tenant_side_room(t: Topology) -> Iterator[Problem]:
    """Each gateway takes an address in every subnet of its tenant (from the top down)."""
    needed: dict[str, int] = {}
    for i, gw in indexed(t.vpn_gateways):
        tenant = next((x for x in t.tenants if x.name == gw.tenant), None)
        if tenant is None:
            continue
        needed[gw.tenant] = needed.get(gw.tenant, 0) + (2 if gw.pair else 1)
        for sub in tenant.subnets:
            vms = sum(1 for v in t.vms if v.tenant == tenant.name and (v.subnet or tenant.subnets[0].name) == sub.name)
            room = max(sub.prefix.num_addresses - FIRST_VM_HOST - 1, 0)  # .4 .. broadcast - 1
            if vms + needed[gw.tenant] > room:
                yield Problem(("vpn_gateways", i, "tenant"),
                              f"subnet '{sub.name}' {sub.prefix} of tenant '{tenant.name}' has no free address for "
                              f"this VPN gateway ({vms} VMs and {needed[gw.tenant]} gateway address(es) in "
                              f"{room}); use a larger subnet")
                break
