"""Cross-reference checks: rules that span fields, items or sections.

pydantic checks each field on its own; these checks compare items with each
other (duplicates, references, overlaps). Each check names the top-level
sections it reads, so the loader can still run it when *other* sections failed
structural validation: a user sees as many problems as possible in one run,
without false "unknown X" errors caused by a section that did not parse.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from ipaddress import IPv4Address

from lab.model.sizes import MAX_CLUSTER_NODES, VXLAN_OVERHEAD
from lab.model.topology import Frontend, Topology

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    path: Path
    message: str


Check = Callable[[Topology], Iterator[Problem]]
CHECKS: list[tuple[Check, frozenset[str]]] = []


def _needs(*sections: str) -> Callable[[Check], Check]:
    """Register a check with the top-level sections it reads."""

    def register(check: Check) -> Check:
        CHECKS.append((check, frozenset(sections)))
        return check

    return register


def check_topology(topo: Topology, broken: Iterable[str] = ()) -> list[Problem]:
    """Run every check whose sections all validated (none of them in `broken`)."""
    skip = frozenset(broken)
    problems: list[Problem] = []
    for check, sections in CHECKS:
        if not sections & skip:
            problems.extend(check(topo))
    return problems


def format_path(path: Path) -> str:
    """('vms', 0, 'address') -> 'vms[0].address', as a user reads the YAML."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _duplicates(prefix: Path, values: list[object], what: str, *field: str) -> Iterator[Problem]:
    seen: dict[object, int] = {}
    for i, value in enumerate(values):
        if value in seen:
            other = format_path((*prefix, seen[value]))
            shown = f"'{value}'" if isinstance(value, str) else value
            yield Problem(
                (*prefix, i, *field),
                f"duplicate {what} {shown} (also {other}); {what}s must be unique",
            )
        seen.setdefault(value, i)


@_needs("servers", "tor")
def _server_names(t: Topology) -> Iterator[Problem]:
    yield from _duplicates(("servers",), [s.name for s in t.servers], "server name", "name")
    for i, s in enumerate(t.servers):
        if s.name == t.tor.name:
            yield Problem(
                ("servers", i, "name"), f"'{s.name}' is the ToR's name; rename the server"
            )
        if s.name == "auto":
            yield Problem(("servers", i, "name"), "'auto' is reserved (VM placement: server: auto)")
        yield from _duplicates(("servers", i, "nics"), [n.name for n in s.nics], "NIC name", "name")


@_needs("tenants")
def _tenant_names(t: Topology) -> Iterator[Problem]:
    yield from _duplicates(("tenants",), [x.name for x in t.tenants], "tenant name", "name")
    yield from _duplicates(("tenants",), [x.vni for x in t.tenants], "VNI", "vni")
    for i, tenant in enumerate(t.tenants):
        subnets = [s.name for s in tenant.subnets]
        yield from _duplicates(("tenants", i, "subnets"), subnets, "subnet name", "name")


@_needs("vms")
def _vm_names(t: Topology) -> Iterator[Problem]:
    yield from _duplicates(("vms",), [v.name for v in t.vms], "VM name", "name")
    for i, vm in enumerate(t.vms):
        disks = [d.name for d in vm.data_disks]
        yield from _duplicates(("vms", i, "data_disks"), disks, "disk name", "name")


@_needs("load_balancers")
def _lb_names(t: Topology) -> Iterator[Problem]:
    lbs = t.load_balancers
    yield from _duplicates(
        ("load_balancers",), [lb.name for lb in lbs], "load balancer name", "name"
    )
    for i, lb in enumerate(lbs):
        yield from _duplicates(("load_balancers", i, "backends"), list(lb.backends), "backend")


@_needs("underlay", "servers")
def _underlay_addresses(t: Topology) -> Iterator[Problem]:
    net = t.underlay.subnet
    gateway = net.network_address + 1
    seen: dict[IPv4Address, int] = {}
    for i, s in enumerate(t.servers):
        if s.address is None:
            continue
        path = ("servers", i, "address")
        if s.address not in net or s.address in (net.network_address, net.broadcast_address):
            yield Problem(
                path,
                f"{s.address} is outside the underlay subnet {net} (usable: "
                f"{net.network_address + 2} - {net.broadcast_address - 1})",
            )
        elif s.address == gateway:
            yield Problem(path, f"{s.address} is the ToR's underlay gateway; pick another address")
        elif s.address in seen:
            yield Problem(path, f"duplicate address {s.address} (also servers[{seen[s.address]}])")
        seen.setdefault(s.address, i)
    usable = net.num_addresses - 3  # network, broadcast, ToR gateway
    if len(t.servers) > usable:
        yield Problem(
            ("underlay", "subnet"),
            f"{net} has room for {max(usable, 0)} servers, "
            f"the topology has {len(t.servers)}; use a larger subnet",
        )


@_needs("underlay", "external")
def _external(t: Topology) -> Iterator[Problem]:
    ext = t.external
    client = ext.client_address
    if client is not None and (client not in ext.subnet or client == ext.subnet.network_address):
        yield Problem(
            ("external", "client_address"), f"{client} is outside external.subnet {ext.subnet}"
        )
    nets = {
        ("underlay", "subnet"): t.underlay.subnet,
        ("external", "subnet"): ext.subnet,
        ("external", "vip_pool"): ext.vip_pool,
    }
    paths = list(nets)
    for a, first in enumerate(paths):
        for second in paths[a + 1 :]:
            if nets[first].overlaps(nets[second]):
                yield Problem(
                    second,
                    f"{nets[second]} overlaps {format_path(first)} {nets[first]}; "
                    "the three networks must be disjoint",
                )


@_needs("tenants")
def _tenant_subnets(t: Topology) -> Iterator[Problem]:
    for i, tenant in enumerate(t.tenants):
        for j, sub in enumerate(tenant.subnets):
            path = ("tenants", i, "subnets", j, "prefix")
            if sub.prefix.prefixlen > 29:
                yield Problem(path, f"{sub.prefix} is too small: a tenant subnet is at most /29")
            for k in range(j):
                if sub.prefix.overlaps(tenant.subnets[k].prefix):
                    yield Problem(
                        path,
                        f"{sub.prefix} overlaps subnet '{tenant.subnets[k].name}' of "
                        "the same tenant (overlap is allowed only across tenants)",
                    )


@_needs("tenants", "underlay")
def _tenant_mtu(t: Topology) -> Iterator[Problem]:
    limit = t.underlay.mtu - VXLAN_OVERHEAD
    for i, tenant in enumerate(t.tenants):
        if tenant.mtu > limit:
            yield Problem(
                ("tenants", i, "mtu"),
                f"tenant MTU {tenant.mtu} + {VXLAN_OVERHEAD} bytes of VXLAN exceeds the "
                f"underlay MTU {t.underlay.mtu}; at most {limit}",
            )


@_needs("vms", "servers")
def _vm_placement(t: Topology) -> Iterator[Problem]:
    servers = {s.name: s for s in t.servers}
    computes = [s.name for s in t.servers if s.role == "compute"]
    if t.vms and not computes:
        yield Problem(("servers",), "VMs need at least one server with role: compute")
        return
    for i, vm in enumerate(t.vms):
        server = servers.get(vm.server)
        if vm.server == "auto":
            continue
        if server is None:
            yield Problem(
                ("vms", i, "server"),
                f"unknown server '{vm.server}'; compute servers: {', '.join(computes)} or auto",
            )
        elif server.role != "compute":
            yield Problem(
                ("vms", i, "server"),
                f"'{vm.server}' is a {server.role} server; VMs run "
                f"on compute servers: {', '.join(computes)} or auto",
            )


@_needs("vms", "tenants")
def _vm_addresses(t: Topology) -> Iterator[Problem]:
    tenants = {x.name: x for x in t.tenants}
    taken: dict[tuple[str, IPv4Address], int] = {}
    for i, vm in enumerate(t.vms):
        tenant = tenants.get(vm.tenant)
        if tenant is None:
            yield Problem(
                ("vms", i, "tenant"),
                f"unknown tenant '{vm.tenant}'; known: {', '.join(tenants) or 'none'}",
            )
            continue
        subnets = {s.name: s for s in tenant.subnets}
        subnet = subnets.get(vm.subnet or tenant.subnets[0].name)
        if subnet is None:
            yield Problem(
                ("vms", i, "subnet"),
                f"tenant '{tenant.name}' has no subnet '{vm.subnet}'; known: {', '.join(subnets)}",
            )
            continue
        if vm.address is None:
            continue
        net, path = subnet.prefix, ("vms", i, "address")
        if vm.address not in net or vm.address in (net.network_address, net.broadcast_address):
            yield Problem(path, f"{vm.address} is outside its subnet '{subnet.name}' {net}")
        elif vm.address == net.network_address + 1:
            yield Problem(
                path, f"{vm.address} is the tenant gateway of {net}; pick another address"
            )
        elif (tenant.name, vm.address) in taken:
            other = taken[(tenant.name, vm.address)]
            yield Problem(
                path,
                f"duplicate address {vm.address} in tenant '{tenant.name}' (also vms[{other}])",
            )
        taken.setdefault((tenant.name, vm.address), i)


@_needs("load_balancers", "servers")
def _lb_mux(t: Topology) -> Iterator[Problem]:
    muxes = [s.name for s in t.servers if s.role == "mux"]
    for i, lb in enumerate(t.load_balancers):
        if not muxes:
            yield Problem(("load_balancers", i), "a load balancer needs a server with role: mux")
        elif lb.mux is not None and lb.mux not in muxes:
            yield Problem(
                ("load_balancers", i, "mux"),
                f"'{lb.mux}' is not a mux server; mux servers: {', '.join(muxes)}",
            )


@_needs("load_balancers", "tenants", "vms")
def _lb_members(t: Topology) -> Iterator[Problem]:
    tenants = [x.name for x in t.tenants]
    vms = {v.name: v for v in t.vms}
    for i, lb in enumerate(t.load_balancers):
        if lb.tenant not in tenants:
            yield Problem(
                ("load_balancers", i, "tenant"),
                f"unknown tenant '{lb.tenant}'; known: {', '.join(tenants) or 'none'}",
            )
            continue
        for j, backend in enumerate(lb.backends):
            vm = vms.get(backend)
            path = ("load_balancers", i, "backends", j)
            if vm is None:
                mine = [v.name for v in t.vms if v.tenant == lb.tenant]
                yield Problem(
                    path,
                    f"unknown VM '{backend}' in the backend pool; VMs of tenant "
                    f"'{lb.tenant}': {', '.join(mine) or 'none'}",
                )
            elif vm.tenant != lb.tenant:
                yield Problem(path, f"VM '{backend}' is in tenant '{vm.tenant}', not '{lb.tenant}'")


@_needs("load_balancers", "external", "tenants")
def _vips(t: Topology) -> Iterator[Problem]:
    pool = t.external.vip_pool
    for path, fe in _frontends(t):
        if fe.vip not in pool or fe.vip in (pool.network_address, pool.broadcast_address):
            yield Problem(
                (*path, "vip"),
                f"VIP {fe.vip} is not routable: the ToR routes only "
                f"external.vip_pool {pool} to the MUXes",
            )
        for tenant in t.tenants:
            for sub in tenant.subnets:
                if fe.vip in sub.prefix:
                    yield Problem(
                        (*path, "vip"),
                        f"VIP {fe.vip} overlaps subnet '{sub.name}' "
                        f"{sub.prefix} of tenant '{tenant.name}'",
                    )


@_needs("load_balancers")
def _lb_rules(t: Topology) -> Iterator[Problem]:
    """One owner per VIP:port/protocol; one kind of rule (HA ports or specific) per VIP."""
    rules: dict[tuple[IPv4Address, int, str], Path] = {}
    kinds: dict[IPv4Address, tuple[bool, Path]] = {}
    for path, fe in _frontends(t):
        key = (fe.vip, fe.port, fe.protocol)
        if key in rules:
            yield Problem(
                path,
                f"conflicting rule: {fe.vip}:{fe.port}/{fe.protocol} is already "
                f"{format_path(rules[key])}",
            )
        rules.setdefault(key, path)
        ha, first = kinds.setdefault(fe.vip, (fe.is_ha_ports, path))
        if ha != fe.is_ha_ports:
            yield Problem(
                path,
                f"ambiguous: VIP {fe.vip} mixes an HA-ports rule with a specific "
                f"port rule ({format_path(first)}); use one kind of rule per VIP",
            )


def _frontends(t: Topology) -> Iterator[tuple[Path, Frontend]]:
    for i, lb in enumerate(t.load_balancers):
        for j, fe in enumerate(lb.frontends):
            yield ("load_balancers", i, "frontends", j), fe


@_needs("servers")
def _clusters(t: Topology) -> Iterator[Problem]:
    sizes = Counter(s.cluster for s in t.servers if s.role == "compute")
    for cluster, count in sizes.items():
        if count > MAX_CLUSTER_NODES:
            over = [
                i for i, s in enumerate(t.servers) if s.cluster == cluster and s.role == "compute"
            ]
            yield Problem(
                ("servers", over[MAX_CLUSTER_NODES], "cluster"),
                f"cluster '{cluster}' has {count} compute servers; a hyper-converged "
                f"cluster holds at most {MAX_CLUSTER_NODES} (split the servers over "
                "several clusters)",
            )
