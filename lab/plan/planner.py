"""Topology -> Plan. Pure: no I/O, no root, deterministic.

The embedded fabric it describes:
- the ToR is a router with an L2 underlay bridge (every server, MUX and tenant
  gateway hangs off it), a link to the client namespace; how it reaches the
  VIPs (BGP from the MUXes, or static routes) is the LB's part (lab.plan.lb);
- each server carries, per tenant present on it, a bridge and a VXLAN device
  (learning off, no flooding, ARP suppressed) whose FDB and neighbour entries
  for every remote tenant member are programmed from here;
- each tenant has a gateway namespace on the underlay (the VRF stand-in): the
  .1 of every tenant subnet, routing between them, and SNAT to the outside.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from dataclasses import dataclass

from lab.features import planners
from lab.model.sizes import VM_SIZES
from lab.model.topology import Topology, Vm
from lab.plan.disks import mirror_capable, plan_disks
from lab.plan.lb_model import BfdSpec
from lab.plan.model import (
    AddressSpec,
    DiskPlan,
    EndpointPlan,
    FdbSpec,
    HostPlan,
    LinkSpec,
    NeighSpec,
    NicPlan,
    Plan,
    RouteSpec,
    SnatSpec,
    TenantPlan,
    TorPlan,
    VethPeer,
    VxlanOpts,
)
from lab.plan.naming import (
    bridge_name,
    endpoint_host,
    endpoint_namespace,
    mac_for,
    mark_for,
    namespace_for,
    short_ifname,
    vxlan_name,
)

CLIENT = "client"
FIRST_SERVER_HOST = 11  # underlay .1 is the ToR, .2-.10 stay free for operators
FIRST_VM_HOST = 4  # Azure keeps .1-.3 of every subnet for itself
ROUTER_SYSCTLS = {
    "net.ipv4.ip_forward": "1",
    "net.ipv4.conf.all.rp_filter": "0",
    "net.ipv4.conf.default.rp_filter": "0",
    "net.ipv4.conf.all.send_redirects": "0",
    "net.ipv4.conf.default.send_redirects": "0",
}


def gateway_host(tenant: str) -> str:
    return f"gw.{tenant}"


@dataclass(frozen=True)
class _Member:
    """Something with a MAC in a tenant's L2 domain, behind one VTEP."""

    mac: str
    ips: tuple[str, ...]
    vtep_host: str
    vtep_ip: str


def build_plan(topo: Topology) -> Plan:
    lab = topo.name
    underlay_ips = _underlay_addresses(topo)
    placement = _place_vms(topo)
    disks = plan_disks(topo, placement, underlay_ips)
    tenants = [_tenant_plan(topo, t.name, underlay_ips) for t in topo.tenants]
    endpoints = [_endpoint(topo, vm, placement[vm.name], underlay_ips, disks[vm.name]) for vm in topo.vms]
    endpoints = _assign_addresses(topo, endpoints)
    hosts = [_tor(topo, underlay_ips), _client(topo)]
    hosts += [_server(topo, s.name, underlay_ips, endpoints) for s in topo.servers]
    hosts += [_gateway(topo, t, endpoints) for t in tenants]
    hosts += [_endpoint_host(lab, e) for e in endpoints if not e.is_vm]
    hosts = _add_overlay_tables(hosts, tenants, endpoints)
    net = topo.underlay.subnet
    plan = Plan(
        lab=lab,
        mark=mark_for(lab),
        underlay_subnet=str(net),
        underlay_mtu=topo.underlay.mtu,
        tor_underlay_ip=str(net.network_address + 1),
        tor_underlay_mac=mac_for(lab, "tor", "underlay"),
        tor=_tor_routing(topo),
        client_address=_client_address(topo),
        external_subnet=str(topo.external.subnet),
        vip_pool=str(topo.external.vip_pool),
        hosts=hosts,
        endpoints=endpoints,
        tenants=tenants,
        load_balancers=list(topo.load_balancers),
        specs=topo.specs,
    )
    for add_feature in planners():
        plan = add_feature(plan, topo)
    return plan


def _underlay_addresses(topo: Topology) -> dict[str, str]:
    """Servers from .11 up (explicit addresses kept), tenant gateways from the top down."""
    net = topo.underlay.subnet
    taken = {s.address for s in topo.servers if s.address is not None}
    taken.add(net.network_address + 1)
    hosts = iter(h for h in net.hosts() if int(h) - int(net.network_address) >= FIRST_SERVER_HOST)
    result: dict[str, str] = {}
    for server in topo.servers:
        addr = server.address or next(h for h in hosts if h not in taken)
        taken.add(addr)
        result[server.name] = str(addr)
    top = iter(reversed(list(net.hosts())))
    for tenant in topo.tenants:
        addr = next(h for h in top if h not in taken)
        taken.add(addr)
        result[gateway_host(tenant.name)] = str(addr)
    return result


def _place_vms(topo: Topology) -> dict[str, str]:
    """Pinned VMs stay put; 'auto' goes to the least-loaded compute server (one
    whose cluster can hold three mirror legs when the VM has a mirror3 disk)."""
    load: dict[str, int] = {s.name: 0 for s in topo.servers if s.role == "compute"}
    placement = {vm.name: vm.server for vm in topo.vms if vm.server != "auto"}
    for server in placement.values():
        load[server] = load.get(server, 0) + 1
    for vm in topo.vms:
        if vm.server == "auto":
            mirrored = any(d.resiliency == "mirror3" for d in vm.data_disks)
            candidates = [s for s in load if not mirrored or mirror_capable(topo, s)] or list(load)
            server = min(candidates, key=lambda s: (load[s], s))
            placement[vm.name] = server
            load[server] += 1
    return placement


def _tenant_plan(topo: Topology, name: str, underlay_ips: dict[str, str]) -> TenantPlan:
    tenant = topo.tenant(name)
    return TenantPlan(
        name=name,
        vni=tenant.vni,
        mtu=tenant.mtu,
        subnets={s.name: str(s.prefix) for s in tenant.subnets},
        gateway_host=gateway_host(name),
        gateway_mac=mac_for(topo.name, "gateway", name),
        gateway_underlay_ip=underlay_ips[gateway_host(name)],
    )


def _endpoint(topo: Topology, vm: Vm, server: str, underlay_ips: dict[str, str],
              disks: list[DiskPlan]) -> EndpointPlan:
    tenant = topo.tenant(vm.tenant)
    subnet = next(s for s in tenant.subnets if s.name == (vm.subnet or tenant.subnets[0].name))
    size = VM_SIZES[vm.size]
    prefix = "t" if vm.is_vm else "e"
    return EndpointPlan(
        name=vm.name,
        kind=vm.kind,
        tenant=tenant.name,
        vni=tenant.vni,
        subnet=subnet.name,
        address=str(vm.address) if vm.address else "",
        prefixlen=subnet.prefix.prefixlen,
        gateway=str(subnet.prefix.network_address + 1),
        mac=mac_for(topo.name, "vm", vm.name),
        mtu=tenant.mtu,
        server=server,
        server_namespace=namespace_for(topo.name, server),
        namespace=endpoint_namespace(topo.name, vm.name) if not vm.is_vm else None,
        server_underlay_ip=underlay_ips[server],
        bridge=bridge_name(tenant.vni),
        port=short_ifname(prefix, topo.name, vm.name),
        size=vm.size,
        cores=size.cores,
        memory_mb=size.memory_mb,
        data_disks=disks,
        provision_script=vm.provision_script,
    )


def _assign_addresses(topo: Topology, endpoints: list[EndpointPlan]) -> list[EndpointPlan]:
    taken: dict[tuple[str, str], set[str]] = defaultdict(set)
    for e in endpoints:
        if e.address:
            taken[(e.tenant, e.subnet)].add(e.address)
    result = []
    for e in endpoints:
        if e.address:
            result.append(e)
            continue
        prefix = next(s.prefix for s in topo.tenant(e.tenant).subnets if s.name == e.subnet)
        used = taken[(e.tenant, e.subnet)]
        addr = next(str(h) for h in prefix.hosts()
                    if int(h) - int(prefix.network_address) >= FIRST_VM_HOST and str(h) not in used)
        used.add(addr)
        result.append(e.model_copy(update={"address": addr}))
    return result


def _client_address(topo: Topology) -> str:
    ext = topo.external
    return str(ext.client_address or ext.subnet.network_address + 10)


def _tor(topo: Topology, underlay_ips: dict[str, str]) -> HostPlan:
    lab, net, mtu = topo.name, topo.underlay.subnet, topo.underlay.mtu
    attached = [(s.name, s.nics[0].name) for s in topo.servers]
    attached += [(gateway_host(t.name), "eth0") for t in topo.tenants]
    links = [LinkSpec(name="underlay", kind="bridge", mtu=mtu, mac=mac_for(lab, "tor", "underlay"))]
    links += [LinkSpec(name=short_ifname("u", host), kind="veth", mtu=mtu, master="underlay",
                       peer=VethPeer(host=host, name=nic)) for host, nic in attached]
    links.append(LinkSpec(name=CLIENT, kind="veth", mtu=1500, peer=VethPeer(host=CLIENT, name="eth0")))
    ext = topo.external
    return HostPlan(
        name=topo.tor.name, role="tor", namespace=namespace_for(lab, topo.tor.name),
        underlay_ip=str(net.network_address + 1), links=links,
        addresses=[AddressSpec(ifname="underlay", cidr=f"{net.network_address + 1}/{net.prefixlen}"),
                   AddressSpec(ifname=CLIENT, cidr=f"{ext.subnet.network_address + 1}/{ext.subnet.prefixlen}")],
        sysctls=dict(ROUTER_SYSCTLS),
    )


def _tor_routing(topo: Topology) -> TorPlan:
    tor = topo.tor
    return TorPlan(name=tor.name, asn=tor.asn, maximum_paths=tor.maximum_paths,
                   bfd=BfdSpec(interval_ms=tor.bfd_interval_ms, multiplier=tor.bfd_multiplier))


def _client(topo: Topology) -> HostPlan:
    ext = topo.external
    return HostPlan(
        name=CLIENT, role="client", namespace=namespace_for(topo.name, CLIENT),
        links=[LinkSpec(name="eth0", kind="veth", mtu=1500, mac=mac_for(topo.name, CLIENT))],
        addresses=[AddressSpec(ifname="eth0", cidr=f"{_client_address(topo)}/{ext.subnet.prefixlen}")],
        routes=[RouteSpec(dst="default", via=str(ext.subnet.network_address + 1))],
    )


def _overlay_links(vni: int, mtu: int, local: str, bridge_mac: str) -> list[LinkSpec]:
    # a fixed bridge MAC: a port joining with a lower MAC would otherwise
    # change it, and the kernel then flushes the bridge's neighbour entries
    return [
        LinkSpec(name=bridge_name(vni), kind="bridge", mtu=mtu, mac=bridge_mac),
        LinkSpec(name=vxlan_name(vni), kind="vxlan", mtu=mtu, master=bridge_name(vni),
                 vxlan=VxlanOpts(vni=vni, local=local), learning=False, flood=False,
                 neigh_suppress=True),
    ]


def _underlay_nic(topo: Topology, host: str, nic: str, ip: str) -> tuple[LinkSpec, AddressSpec, RouteSpec]:
    net = topo.underlay.subnet
    return (LinkSpec(name=nic, kind="veth", mtu=topo.underlay.mtu, mac=mac_for(topo.name, host, nic)),
            AddressSpec(ifname=nic, cidr=f"{ip}/{net.prefixlen}"),
            RouteSpec(dst="default", via=str(net.network_address + 1)))


def _server(topo: Topology, name: str, underlay_ips: dict[str, str],
            endpoints: list[EndpointPlan]) -> HostPlan:
    server = topo.server(name)
    ip = underlay_ips[name]
    nic, addr, route = _underlay_nic(topo, name, server.nics[0].name, ip)
    links = [nic]
    local = [e for e in endpoints if e.server == name]
    for vni in sorted({e.vni for e in local}):
        links += _overlay_links(vni, next(e.mtu for e in local if e.vni == vni), ip,
                                mac_for(topo.name, name, "bridge", str(vni)))
    links += [LinkSpec(name=e.port, kind="veth", mtu=e.mtu, master=e.bridge,
                       peer=VethPeer(host=endpoint_host(e.name), name="eth0"))
              for e in local if not e.is_vm]
    return HostPlan(name=name, role=server.role, namespace=namespace_for(topo.name, name),
                    underlay_ip=ip, links=links, addresses=[addr], routes=[route],
                    nics=[NicPlan(**nic.model_dump()) for nic in server.nics],
                    cluster=server.cluster)


def _gateway(topo: Topology, tenant: TenantPlan, endpoints: list[EndpointPlan]) -> HostPlan:
    host = tenant.gateway_host
    nic, addr, route = _underlay_nic(topo, host, "eth0", tenant.gateway_underlay_ip)
    overlay = _overlay_links(tenant.vni, tenant.mtu, tenant.gateway_underlay_ip, tenant.gateway_mac)
    addresses = [addr] + [
        AddressSpec(ifname=bridge_name(tenant.vni),
                    cidr=f"{ipaddress.ip_network(p).network_address + 1}/{ipaddress.ip_network(p).prefixlen}")
        for p in tenant.subnets.values()
    ]
    snat = [SnatSpec(out_ifname="eth0", sources=list(tenant.subnets.values()),
                     to_address=tenant.gateway_underlay_ip)]
    return HostPlan(name=host, role="gateway", namespace=namespace_for(topo.name, host),
                    underlay_ip=tenant.gateway_underlay_ip, links=[nic, *overlay],
                    addresses=addresses, routes=[route], sysctls=dict(ROUTER_SYSCTLS), snat=snat)


def _endpoint_host(lab: str, e: EndpointPlan) -> HostPlan:
    return HostPlan(
        name=endpoint_host(e.name), role="endpoint", namespace=endpoint_namespace(lab, e.name),
        links=[LinkSpec(name="eth0", kind="veth", mtu=e.mtu, mac=e.mac)],
        addresses=[AddressSpec(ifname="eth0", cidr=f"{e.address}/{e.prefixlen}")],
        routes=[RouteSpec(dst="default", via=e.gateway)],
    )


def _add_overlay_tables(hosts: list[HostPlan], tenants: list[TenantPlan],
                        endpoints: list[EndpointPlan]) -> list[HostPlan]:
    """Program every VTEP with the MAC/IP of every remote member of its tenants."""
    members: dict[int, list[_Member]] = defaultdict(list)
    vteps: dict[int, set[str]] = defaultdict(set)
    for e in endpoints:
        members[e.vni].append(_Member(e.mac, (e.address,), e.server, e.server_underlay_ip))
        vteps[e.vni].add(e.server)
    for t in tenants:
        gw_ips = tuple(str(ipaddress.ip_network(p).network_address + 1) for p in t.subnets.values())
        members[t.vni].append(_Member(t.gateway_mac, gw_ips, t.gateway_host, t.gateway_underlay_ip))
        vteps[t.vni].add(t.gateway_host)
    result = []
    for host in hosts:
        fdb, neigh = [], []
        for vni in sorted(v for v, names in vteps.items() if host.name in names):
            for m in members[vni]:
                if m.vtep_host == host.name:
                    continue
                fdb.append(FdbSpec(ifname=vxlan_name(vni), mac=m.mac, dst=m.vtep_ip))
                neigh += [NeighSpec(ifname=bridge_name(vni), ip=ip, mac=m.mac) for ip in m.ips]
        result.append(host.model_copy(update={"fdb": fdb, "neighbours": neigh}) if fdb else host)
    return result
