"""Cross-reference checks over a structurally valid topology.

Each check yields Problems (YAML path + message saying what is allowed); the
loader merges them with pydantic's field errors so a user sees all at once.
"""

from __future__ import annotations

import ipaddress
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from lab.model.sizes import MAX_CLUSTER_NODES, VXLAN_OVERHEAD
from lab.model.topology import Topology

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    path: Path
    message: str


def check_topology(topo: Topology) -> list[Problem]:
    problems: list[Problem] = []
    for check in (_names, _underlay, _tenants, _vms, _load_balancers, _clusters):
        problems.extend(check(topo))
    return problems


def _duplicates(section: str, names: list[str], what: str) -> Iterator[Problem]:
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in seen:
            yield Problem(
                (section, i, "name"),
                f"duplicate {what} name '{name}' (also {section}[{seen[name]}]); names must be unique",
            )
        seen.setdefault(name, i)


def _names(t: Topology) -> Iterator[Problem]:
    yield from _duplicates("servers", [s.name for s in t.servers], "server")
    yield from _duplicates("tenants", [x.name for x in t.tenants], "tenant")
    yield from _duplicates("vms", [v.name for v in t.vms], "VM")
    yield from _duplicates("load_balancers", [lb.name for lb in t.load_balancers], "load balancer")
    for i, s in enumerate(t.servers):
        if s.name == t.tor.name:
            yield Problem(("servers", i, "name"), f"'{s.name}' is the ToR's name; rename the server")
    for i, tenant in enumerate(t.tenants):
        for p in _duplicates("subnets", [s.name for s in tenant.subnets], "subnet"):
            yield Problem(("tenants", i, *p.path), p.message)


def _underlay(t: Topology) -> Iterator[Problem]:
    net = t.underlay.subnet
    gateway = net.network_address + 1
    seen: dict[object, int] = {}
    for i, s in enumerate(t.servers):
        if s.address is None:
            continue
        path = ("servers", i, "address")
        if s.address not in net or s.address in (net.network_address, net.broadcast_address):
            yield Problem(path, f"{s.address} is outside the underlay subnet {net}")
        elif s.address == gateway:
            yield Problem(path, f"{s.address} is the ToR's underlay gateway; pick another address")
        elif s.address in seen:
            yield Problem(path, f"duplicate address {s.address} (also servers[{seen[s.address]}])")
        seen.setdefault(s.address, i)
    ext = t.external
    if ext.client_address is not None and ext.client_address not in ext.subnet:
        yield Problem(("external", "client_address"), f"{ext.client_address} is outside {ext.subnet}")
    nets = {"underlay.subnet": net, "external.subnet": ext.subnet, "external.vip_pool": ext.vip_pool}
    names = list(nets)
    for a in range(len(names)):
        for b in range(a + 1, len(names)):
            if nets[names[a]].overlaps(nets[names[b]]):
                yield Problem(
                    tuple(names[b].split(".")), f"{nets[names[b]]} overlaps {names[a]} {nets[names[a]]}"
                )


def _tenants(t: Topology) -> Iterator[Problem]:
    vnis: dict[int, int] = {}
    for i, tenant in enumerate(t.tenants):
        if tenant.vni in vnis:
            yield Problem(
                ("tenants", i, "vni"),
                f"duplicate VNI {tenant.vni} (also tenants[{vnis[tenant.vni]}]); each tenant needs its own",
            )
        vnis.setdefault(tenant.vni, i)
        if tenant.mtu + VXLAN_OVERHEAD > t.underlay.mtu:
            yield Problem(
                ("tenants", i, "mtu"),
                f"tenant MTU {tenant.mtu} + {VXLAN_OVERHEAD} bytes of VXLAN exceeds the underlay MTU "
                f"{t.underlay.mtu}; at most {t.underlay.mtu - VXLAN_OVERHEAD}",
            )
        for j, sub in enumerate(tenant.subnets):
            if sub.prefix.prefixlen > 29:
                yield Problem(("tenants", i, "subnets", j, "prefix"), "subnet too small: at most /29")
            for k in range(j):
                if sub.prefix.overlaps(tenant.subnets[k].prefix):
                    yield Problem(
                        ("tenants", i, "subnets", j, "prefix"),
                        f"{sub.prefix} overlaps subnet '{tenant.subnets[k].name}' of the same tenant "
                        "(overlap is allowed only across tenants)",
                    )


def _vms(t: Topology) -> Iterator[Problem]:
    tenants = {x.name: x for x in t.tenants}
    servers = {s.name: s for s in t.servers}
    taken: dict[tuple[str, object], int] = {}
    for i, vm in enumerate(t.vms):
        tenant = tenants.get(vm.tenant)
        if tenant is None:
            yield Problem(("vms", i, "tenant"), f"unknown tenant '{vm.tenant}'; known: {', '.join(tenants) or 'none'}")
            continue
        if vm.server != "auto":
            server = servers.get(vm.server)
            computes = [s.name for s in t.servers if s.role == "compute"]
            if server is None:
                yield Problem(("vms", i, "server"), f"unknown server '{vm.server}'; known: {', '.join(servers)} or auto")
            elif server.role != "compute":
                yield Problem(("vms", i, "server"), f"'{vm.server}' is a {server.role} server; VMs run on compute servers: {', '.join(computes)}")
        subnets = {s.name: s for s in tenant.subnets}
        subnet = subnets.get(vm.subnet or tenant.subnets[0].name)
        if subnet is None:
            yield Problem(("vms", i, "subnet"), f"tenant '{tenant.name}' has no subnet '{vm.subnet}'; known: {', '.join(subnets)}")
            continue
        if vm.address is None:
            continue
        net = subnet.prefix
        path = ("vms", i, "address")
        if vm.address not in net or vm.address in (net.network_address, net.broadcast_address):
            yield Problem(path, f"{vm.address} is outside its subnet '{subnet.name}' {net}")
        elif vm.address == net.network_address + 1:
            yield Problem(path, f"{vm.address} is the tenant gateway of {net}; pick another address")
        elif (tenant.name, vm.address) in taken:
            yield Problem(path, f"duplicate address {vm.address} in tenant '{tenant.name}' (also vms[{taken[(tenant.name, vm.address)]}])")
        taken.setdefault((tenant.name, vm.address), i)
    if t.vms and not any(s.role == "compute" for s in t.servers):
        yield Problem(("servers",), "VMs need at least one server with role: compute")


def _load_balancers(t: Topology) -> Iterator[Problem]:
    tenants = {x.name: x for x in t.tenants}
    vms = {v.name: v for v in t.vms}
    muxes = [s.name for s in t.servers if s.role == "mux"]
    rules: dict[tuple[object, int, str], tuple[int, int]] = {}
    ha_vips: dict[object, tuple[int, int]] = {}
    specific_vips: dict[object, tuple[int, int]] = {}
    for i, lb in enumerate(t.load_balancers):
        if lb.tenant not in tenants:
            yield Problem(("load_balancers", i, "tenant"), f"unknown tenant '{lb.tenant}'; known: {', '.join(tenants) or 'none'}")
        if not muxes:
            yield Problem(("load_balancers", i), "a load balancer needs a server with role: mux")
        elif lb.mux is not None and lb.mux not in muxes:
            yield Problem(("load_balancers", i, "mux"), f"'{lb.mux}' is not a mux server; mux servers: {', '.join(muxes)}")
        for j, backend in enumerate(lb.backends):
            vm = vms.get(backend)
            if vm is None:
                yield Problem(("load_balancers", i, "backends", j), f"unknown VM '{backend}' in the backend pool")
            elif vm.tenant != lb.tenant:
                yield Problem(("load_balancers", i, "backends", j), f"VM '{backend}' is in tenant '{vm.tenant}', not '{lb.tenant}'")
        for j, fe in enumerate(lb.frontends):
            yield from _frontend(t, tenants, (i, j), fe, rules, ha_vips, specific_vips)


def _frontend(t, tenants, ij, fe, rules, ha_vips, specific_vips) -> Iterator[Problem]:
    i, j = ij
    path = ("load_balancers", i, "frontends", j)
    pool = t.external.vip_pool
    if fe.vip not in pool:
        yield Problem((*path, "vip"), f"VIP {fe.vip} is not routable: the ToR routes only external.vip_pool {pool} to the MUXes")
    for tenant in tenants.values():
        for sub in tenant.subnets:
            if fe.vip in sub.prefix:
                yield Problem((*path, "vip"), f"VIP {fe.vip} overlaps subnet '{sub.name}' {sub.prefix} of tenant '{tenant.name}'")
    key = (fe.vip, fe.port, fe.protocol)
    if key in rules:
        a, b = rules[key]
        yield Problem(path, f"conflicting rule: {fe.vip}:{fe.port}/{fe.protocol} is already load_balancers[{a}].frontends[{b}]")
    rules.setdefault(key, (i, j))
    mine, other = (ha_vips, specific_vips) if fe.is_ha_ports else (specific_vips, ha_vips)
    if fe.vip in other:
        a, b = other[fe.vip]
        yield Problem(
            path,
            f"ambiguous: VIP {fe.vip} mixes an HA-ports rule with a specific port rule "
            f"(load_balancers[{a}].frontends[{b}]); use one kind of rule per VIP",
        )
    mine.setdefault(fe.vip, (i, j))


def _clusters(t: Topology) -> Iterator[Problem]:
    sizes = Counter(s.cluster for s in t.servers if s.role == "compute")
    first: dict[str, int] = defaultdict(int)
    for i, s in enumerate(t.servers):
        first.setdefault(s.cluster, i)
    for cluster, count in sizes.items():
        if count > MAX_CLUSTER_NODES:
            yield Problem(
                ("servers", first[cluster], "cluster"),
                f"cluster '{cluster}' has {count} compute servers; a hyper-converged cluster "
                f"holds at most {MAX_CLUSTER_NODES} (split servers over several clusters)",
            )
