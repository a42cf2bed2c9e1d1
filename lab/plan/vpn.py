"""The VPN part of the planner: site-to-site VPN gateways. Pure.

Per VPN gateway:
- one gateway namespace `vpn.<name>` (a pair: `vpn.<name>.1`, the active, and
  `vpn.<name>.2`, the standby), attached like a tenant gateway: on the
  underlay (its underlay address is its public address, where the site's
  tunnel ends) and a VTEP of its tenant with an address in each tenant
  subnet from the top down; every VTEP of the tenant learns it (static FDB and
  neighbour entries, as for any member) and it learns them;
- the on-premises site `site.<name>`: its VPN device's public address on the
  external network (the ToR's external side becomes a bridge, `external`, that
  holds the client and every site), its subnet on a LAN bridge;
- the VpnSpec the VPN lifecycle applies: the tunnel (daemons and their
  configs), the tenant gateway's route to the site through the serving
  instance and the routes into the tunnel, all with their own route protocol.

Nothing routes the site's subnet but the tunnel: the ToR has no route to it,
so from the site's subnet nothing but the tenant's subnets answers.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

from lab.model.topology import Topology
from lab.model.vpn import VpnGateway
from lab.plan.model import AddressSpec, FdbSpec, HostPlan, LinkSpec, NeighSpec, Plan, RouteSpec, VethPeer
from lab.plan.naming import bridge_name, mac_for, namespace_for, short_ifname, vxlan_name
from lab.plan.planner import CLIENT, ROUTER_SYSCTLS, _Member, _overlay_links, _underlay_nic
from lab.plan.vpn_model import IKE_PORT, WIREGUARD_PORT, SiteSpec, VpnInstanceSpec, VpnSpec

EXTERNAL_BRIDGE = "external"
SITE_SYSCTLS = {"net.ipv4.conf.all.rp_filter": "0", "net.ipv4.conf.default.rp_filter": "0"}
KEEPALIVE_S = 1  # a lost gateway or key shows within seconds (tunnel_up watches traffic both ways)
LIBIPSEC_TUN = "ipsec0"  # kernel-libipsec's TUN device, one per namespace


def instance_hosts(name: str, pair: bool) -> list[str]:
    return [f"vpn.{name}.1", f"vpn.{name}.2"] if pair else [f"vpn.{name}"]


def site_host(name: str) -> str:
    return f"site.{name}"


def secret_name(name: str) -> str:
    return f"vpn-{name}"


def plan_vpn_gateways(plan: Plan, topo: Topology) -> Plan:
    if not topo.vpn_gateways:
        return plan
    public = _free(ipaddress.ip_network(plan.underlay_subnet),
                   {h.underlay_ip for h in plan.hosts if h.underlay_ip} | {plan.tor_underlay_ip})
    site_public = _site_addresses(topo)
    vpns: list[VpnSpec] = []
    for gw in topo.vpn_gateways:
        vpns.append(_vpn_spec(plan, topo, gw, public, site_public[gw.name], vpns))
    hosts = [_with_external(h, topo, vpns) if h.role == "tor" else _no_redirects(h, vpns) for h in plan.hosts]
    hosts += [_instance_host(topo, v, i) for v in vpns for i in v.instances]
    hosts += [_site_host(topo, v) for v in vpns]
    return plan.model_copy(update={"hosts": _join_overlays(plan, hosts, vpns), "vpns": vpns})


def _free(net: ipaddress.IPv4Network, taken: set[str]) -> Iterator[str]:
    """Addresses of `net` from the top down that nothing holds yet."""
    return (str(h) for h in reversed(list(net.hosts())) if str(h) not in taken)


def _site_addresses(topo: Topology) -> dict[str, str]:
    ext = topo.external
    explicit = {str(g.peer_site.address) for g in topo.vpn_gateways if g.peer_site.address}
    client = str(ext.client_address or ext.subnet.network_address + 10)
    free = _free(ext.subnet, explicit | {client, str(ext.subnet.network_address + 1)})
    return {g.name: str(g.peer_site.address) if g.peer_site.address else next(free) for g in topo.vpn_gateways}


def _vpn_spec(plan: Plan, topo: Topology, gw: VpnGateway, public: Iterator[str], site_public: str,
              earlier: list[VpnSpec]) -> VpnSpec:
    tenant = plan.tenant(gw.tenant)
    taken = {e.address for e in plan.endpoints if e.tenant == tenant.name}
    taken |= {a.split("/")[0] for v in earlier for i in v.instances if v.tenant == tenant.name
              for a in i.tenant_addresses}
    inner = [(ipaddress.ip_network(p), _free(ipaddress.ip_network(p), taken | {
        str(ipaddress.ip_network(p).network_address + 1)})) for p in tenant.subnets.values()]
    instances = []
    for n, host in enumerate(instance_hosts(gw.name, gw.pair)):
        instances.append(VpnInstanceSpec(
            host=host, namespace=namespace_for(plan.lab, host), role="active" if n == 0 else "standby",
            public_address=next(public), tenant_addresses=[f"{next(free)}/{net.prefixlen}" for net, free in inner],
            mac=mac_for(plan.lab, "vpn", host),
            ifname=short_ifname("wg", plan.lab, host) if gw.protocol == "wireguard" else LIBIPSEC_TUN))
    subnet = gw.peer_site.subnet
    site = SiteSpec(host=site_host(gw.name), namespace=namespace_for(plan.lab, site_host(gw.name)),
                    public_address=site_public, lan_address=str(subnet.network_address + 1), subnet=str(subnet),
                    ifname=short_ifname("wg", plan.lab, site_host(gw.name)) if gw.protocol == "wireguard"
                    else LIBIPSEC_TUN)
    return VpnSpec(
        name=gw.name, lab=plan.lab, tenant=tenant.name, protocol=gw.protocol, pair=gw.pair, vni=tenant.vni,
        tenant_subnets=list(tenant.subnets.values()), site_subnet=str(subnet), tenant_gateway=tenant.gateway_host,
        tenant_gateway_namespace=plan.host(tenant.gateway_host).namespace, instances=instances, site=site,
        secret=secret_name(gw.name), port=WIREGUARD_PORT if gw.protocol == "wireguard" else IKE_PORT,
        keepalive_s=KEEPALIVE_S)


def _with_external(tor: HostPlan, topo: Topology, vpns: list[VpnSpec]) -> HostPlan:
    """The ToR's external side as a bridge holding the client and every site;
    the VPN gateways on the underlay bridge like the tenant gateways."""
    links = [link.model_copy(update={"master": EXTERNAL_BRIDGE}) if link.name == CLIENT else link
             for link in tor.links]
    links.append(LinkSpec(name=EXTERNAL_BRIDGE, kind="bridge", mtu=1500, mac=mac_for(topo.name, "tor", "external")))
    links += [LinkSpec(name=short_ifname("u", i.host), kind="veth", mtu=topo.underlay.mtu, master="underlay",
                       peer=VethPeer(host=i.host, name="eth0")) for v in vpns for i in v.instances]
    links += [LinkSpec(name=short_ifname("s", v.site.host), kind="veth", mtu=1500, master=EXTERNAL_BRIDGE,
                       peer=VethPeer(host=v.site.host, name="wan")) for v in vpns]
    addresses = [a.model_copy(update={"ifname": EXTERNAL_BRIDGE}) if a.ifname == CLIENT else a
                 for a in tor.addresses]
    # the client and the sites share the bridge: a redirect from the ToR would
    # teach one to reach the other directly (`all` misses a bridge made before
    # the sysctl phase)
    sysctls = {**tor.sysctls, f"net.ipv4.conf.{EXTERNAL_BRIDGE}.send_redirects": "0"}
    return tor.model_copy(update={"links": links, "addresses": addresses, "sysctls": sysctls})


def _no_redirects(host: HostPlan, vpns: list[VpnSpec]) -> HostPlan:
    """A tenant gateway forwards site traffic to a VPN instance on the same
    bridge it came from, and would answer with an ICMP redirect: the tenant's
    hosts would then send to that instance directly and keep doing so after the
    pair monitor moved the route. `all` does not reach a bridge made before
    the sysctl phase, so the bridge's own setting goes off too."""
    vnis = {v.vni for v in vpns if v.tenant_gateway == host.name}
    if not vnis:
        return host
    off = {f"net.ipv4.conf.{bridge_name(vni)}.send_redirects": "0" for vni in sorted(vnis)}
    return host.model_copy(update={"sysctls": {**host.sysctls, **off}})


def _instance_host(topo: Topology, vpn: VpnSpec, inst: VpnInstanceSpec) -> HostPlan:
    nic, addr, default = _underlay_nic(topo, inst.host, "eth0", inst.public_address)
    tenant = topo.tenant(vpn.tenant)
    overlay = _overlay_links(vpn.vni, tenant.mtu, inst.public_address, inst.mac)
    return HostPlan(name=inst.host, role="vpn", namespace=inst.namespace, underlay_ip=inst.public_address,
                    links=[nic, *overlay],
                    addresses=[addr, *(AddressSpec(ifname=bridge_name(vpn.vni), cidr=c)
                                       for c in inst.tenant_addresses)],
                    routes=[default], sysctls=dict(ROUTER_SYSCTLS))


def _site_host(topo: Topology, vpn: VpnSpec) -> HostPlan:
    ext = topo.external.subnet
    site = vpn.site
    plen = ipaddress.ip_network(site.subnet).prefixlen
    return HostPlan(
        name=site.host, role="site", namespace=site.namespace,
        links=[LinkSpec(name="wan", kind="veth", mtu=1500, mac=mac_for(topo.name, site.host, "wan")),
               LinkSpec(name="lan", kind="bridge", mtu=1500, mac=mac_for(topo.name, site.host, "lan"))],
        addresses=[AddressSpec(ifname="wan", cidr=f"{site.public_address}/{ext.prefixlen}"),
                   AddressSpec(ifname="lan", cidr=f"{site.lan_address}/{plen}")],
        routes=[RouteSpec(dst="default", via=str(ext.network_address + 1))], sysctls=dict(SITE_SYSCTLS))


def _members(plan: Plan, vpns: list[VpnSpec]) -> dict[int, list[_Member]]:
    members: dict[int, list[_Member]] = {}
    for e in plan.endpoints:
        members.setdefault(e.vni, []).append(_Member(e.mac, (e.address,), e.server, e.server_underlay_ip))
    for t in plan.tenants:
        ips = tuple(str(ipaddress.ip_network(p).network_address + 1) for p in t.subnets.values())
        members.setdefault(t.vni, []).append(_Member(t.gateway_mac, ips, t.gateway_host, t.gateway_underlay_ip))
    for v in vpns:
        members[v.vni] += [_Member(i.mac, tuple(a.split("/")[0] for a in i.tenant_addresses), i.host,
                                   i.public_address) for i in v.instances]
    return members


def _join_overlays(plan: Plan, hosts: list[HostPlan], vpns: list[VpnSpec]) -> list[HostPlan]:
    """Every VTEP of a tenant learns its VPN gateways, and they learn every member."""
    members = _members(plan, vpns)
    joining = {i.host: v.vni for v in vpns for i in v.instances}
    result = []
    for host in hosts:
        vnis = sorted({link.vxlan.vni for link in host.links if link.vxlan})
        fdb, neigh = list(host.fdb), list(host.neighbours)
        for vni in vnis:
            new = members[vni] if joining.get(host.name) == vni else [
                m for m in members.get(vni, []) if m.vtep_host in joining]
            for m in new:
                if m.vtep_host == host.name:
                    continue
                fdb.append(FdbSpec(ifname=vxlan_name(vni), mac=m.mac, dst=m.vtep_ip))
                neigh += [NeighSpec(ifname=bridge_name(vni), ip=ip, mac=m.mac) for ip in m.ips]
        result.append(host.model_copy(update={"fdb": fdb, "neighbours": neigh}) if vnis else host)
    return result
