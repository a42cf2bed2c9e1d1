"""Cross-reference checks: rules that span fields, items or sections.

pydantic checks each field on its own; these checks compare items with each
other (duplicates, references, overlaps). Each check names the top-level
sections it reads, so the loader can still run it when *other* sections failed
structural validation, and a section with some broken items is checked over
the items that did validate (see lab.model.problems): a user sees every
problem in one run, without false "unknown X" errors caused by what did not
parse. The fabric and compute checks are here, the load balancer's in
lab.model.lb_checks, the VPN gateways' in lab.model.vpn_checks.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from ipaddress import IPv4Address

from lab.model import lb_checks, vpn_checks
from lab.model.problems import (
    Path,
    Problem,
    Registry,
    did_you_mean,
    duplicates,
    format_path,
    incomplete,
    indexed,
    may_exist,
    unknown,
)
from lab.model.sizes import MAX_CLUSTER_NODES, VXLAN_OVERHEAD
from lab.model.topology import Topology

__all__ = ["Path", "Problem", "check_topology", "format_path"]

CHECKS = Registry()
_needs = CHECKS.needs


def check_topology(topo: Topology, broken: Iterable[str] = ()) -> list[Problem]:
    """Run every check whose sections all validated (none of them in `broken`)."""
    skip = frozenset(broken)
    problems: list[Problem] = []
    for check, sections in (*CHECKS, *lb_checks.CHECKS, *vpn_checks.CHECKS):
        if not sections & skip:
            problems.extend(check(topo))
    return problems


@_needs("servers", "tor")
def _server_names(t: Topology) -> Iterator[Problem]:
    yield from duplicates(("servers",), [(i, s.name) for i, s in indexed(t.servers)], "server name", "name")
    for i, s in indexed(t.servers):
        if s.name == t.tor.name:
            yield Problem(("servers", i, "name"), f"'{s.name}' is the ToR's name; rename the server")
        if s.name == "auto":
            yield Problem(("servers", i, "name"), "'auto' is reserved (VM placement: server: auto)")
        yield from duplicates(("servers", i, "nics"), enumerate(n.name for n in s.nics), "NIC name", "name")


@_needs("tenants")
def _tenant_names(t: Topology) -> Iterator[Problem]:
    yield from duplicates(("tenants",), [(i, x.name) for i, x in indexed(t.tenants)], "tenant name", "name")
    yield from duplicates(("tenants",), [(i, x.vni) for i, x in indexed(t.tenants)], "VNI", "vni")
    for i, tenant in indexed(t.tenants):
        subnets = enumerate(s.name for s in tenant.subnets)
        yield from duplicates(("tenants", i, "subnets"), subnets, "subnet name", "name")


@_needs("vms")
def _vm_names(t: Topology) -> Iterator[Problem]:
    yield from duplicates(("vms",), [(i, v.name) for i, v in indexed(t.vms)], "VM name", "name")
    for i, vm in indexed(t.vms):
        disks = enumerate(d.name for d in vm.data_disks)
        yield from duplicates(("vms", i, "data_disks"), disks, "disk name", "name")


@_needs("underlay", "servers")
def _underlay_addresses(t: Topology) -> Iterator[Problem]:
    net = t.underlay.subnet
    gateway = net.network_address + 1
    seen: dict[IPv4Address, int] = {}
    for i, s in indexed(t.servers):
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
        yield Problem(("external", "client_address"), f"{client} is outside external.subnet {ext.subnet}")
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
    for i, tenant in indexed(t.tenants):
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
    for i, tenant in indexed(t.tenants):
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
        if not incomplete(t.servers):
            yield Problem(("servers",), "VMs need at least one server with role: compute")
        return
    for i, vm in indexed(t.vms):
        server = servers.get(vm.server)
        if vm.server == "auto":
            continue
        path = ("vms", i, "server")
        if server is None and not may_exist(t.servers, vm.server):
            yield Problem(path, unknown("server", vm.server, computes, "compute servers") + " or auto")
        elif server is not None and server.role != "compute":
            yield Problem(
                path,
                f"'{vm.server}' is a {server.role} server; VMs run "
                f"on compute servers: {', '.join(computes)} or auto",
            )


MIRROR_LEGS = 3


@_needs("vms", "servers")
def _mirror_placement(t: Topology) -> Iterator[Problem]:
    """A mirror3 disk puts its three legs on three compute servers of its VM's
    cluster: a cluster with fewer cannot hold it (S2D's three-way mirror)."""
    if incomplete(t.servers):
        return  # a dropped server may be the missing third one
    servers = {s.name: s for s in t.servers}
    members: dict[str, list[str]] = {}
    for s in t.servers:
        if s.role == "compute":
            members.setdefault(s.cluster, []).append(s.name)
    roomy = sorted(c for c, names in members.items() if len(names) >= MIRROR_LEGS)
    for i, vm in indexed(t.vms):
        server = servers.get(vm.server)
        if vm.server == "auto":
            if roomy:
                continue
            where, fix = f"no cluster has {MIRROR_LEGS} compute servers", "add compute servers to a cluster"
        elif server is None or server.role != "compute":
            continue  # an unknown or non-compute server is _vm_placement's error
        elif len(members[server.cluster]) >= MIRROR_LEGS:
            continue
        else:
            have = members[server.cluster]
            where = (f"the cluster '{server.cluster}' of its server '{server.name}' has {len(have)} "
                     f"compute server(s) ({', '.join(have)})")
            fix = f"add compute servers to cluster '{server.cluster}'"
            if roomy:
                fix += f", pin the VM to a server of cluster {', '.join(repr(c) for c in roomy)} or use auto"
        for j, disk in enumerate(vm.data_disks):
            if disk.resiliency == "mirror3":
                yield Problem(("vms", i, "data_disks", j, "resiliency"),
                              f"mirror3 needs {MIRROR_LEGS} compute servers in the VM's cluster for its legs, "
                              f"but {where}; {fix}, or use resiliency: simple")


@_needs("vms", "tenants")
def _vm_addresses(t: Topology) -> Iterator[Problem]:
    tenants = {x.name: x for x in t.tenants}
    taken: dict[tuple[str, IPv4Address], int] = {}
    for i, vm in indexed(t.vms):
        tenant = tenants.get(vm.tenant)
        if tenant is None:
            if not may_exist(t.tenants, vm.tenant):
                yield Problem(("vms", i, "tenant"), unknown("tenant", vm.tenant, list(tenants)))
            continue
        subnets = {s.name: s for s in tenant.subnets}
        subnet = subnets.get(vm.subnet or tenant.subnets[0].name)
        if subnet is None:
            yield Problem(
                ("vms", i, "subnet"),
                f"tenant '{tenant.name}' has no subnet '{vm.subnet}'{did_you_mean(vm.subnet, subnets)}; "
                f"known: {', '.join(subnets)}",
            )
            continue
        if vm.address is not None:
            yield from _vm_address(i, vm.address, tenant.name, subnet, taken)
        taken.setdefault((tenant.name, vm.address), i)


def _vm_address(i: int, address: IPv4Address, tenant: str, subnet, taken) -> Iterator[Problem]:
    net, path = subnet.prefix, ("vms", i, "address")
    if address not in net or address in (net.network_address, net.broadcast_address):
        yield Problem(path, f"{address} is outside its subnet '{subnet.name}' {net}")
    elif address == net.network_address + 1:
        yield Problem(path, f"{address} is the tenant gateway of {net}; pick another address")
    elif (tenant, address) in taken:
        yield Problem(
            path, f"duplicate address {address} in tenant '{tenant}' (also vms[{taken[(tenant, address)]}])"
        )


@_needs("servers")
def _clusters(t: Topology) -> Iterator[Problem]:
    sizes = Counter(s.cluster for s in t.servers if s.role == "compute")
    for cluster, count in sizes.items():
        if count > MAX_CLUSTER_NODES:
            over = [i for i, s in indexed(t.servers) if s.cluster == cluster and s.role == "compute"]
            yield Problem(
                ("servers", over[MAX_CLUSTER_NODES], "cluster"),
                f"cluster '{cluster}' has {count} compute servers; a hyper-converged "
                f"cluster holds at most {MAX_CLUSTER_NODES} (split the servers over "
                "several clusters)",
            )

