"""Cross-reference checks of the load balancers: names, MUX, backends, VIPs
and rules (see lab.model.checks for how checks run on partial topologies)."""

from __future__ import annotations

from collections.abc import Iterator
from ipaddress import IPv4Address

from lab.model import problems
from lab.model.problems import Path, Problem, did_you_mean, format_path, indexed, may_exist
from lab.model.topology import Frontend, Topology

CHECKS = problems.Registry()
_needs = CHECKS.needs


@_needs("load_balancers")
def _lb_names(t: Topology) -> Iterator[Problem]:
    lbs = t.load_balancers
    names = [(i, lb.name) for i, lb in indexed(lbs)]
    yield from problems.duplicates(("load_balancers",), names, "load balancer name", "name")
    for i, lb in indexed(lbs):
        yield from problems.duplicates(("load_balancers", i, "backends"), enumerate(lb.backends), "backend")


@_needs("load_balancers", "servers")
def _lb_mux(t: Topology) -> Iterator[Problem]:
    muxes = [s.name for s in t.servers if s.role == "mux"]
    for i, lb in indexed(t.load_balancers):
        if not muxes and not problems.incomplete(t.servers):
            yield Problem(("load_balancers", i), "a load balancer needs a server with role: mux")
            continue
        named = [(("load_balancers", i, "mux"), lb.mux)] if lb.mux is not None else []
        named += [(("load_balancers", i, "muxes", j), m) for j, m in enumerate(lb.muxes)]
        for path, name in named:
            if muxes and name not in muxes and not _maybe_mux(t, name):
                yield Problem(path, f"'{name}' is not a mux server{did_you_mean(name, muxes)}; "
                                    f"mux servers: {', '.join(muxes)}")
        if lb.mux is not None and lb.muxes:
            yield Problem(("load_balancers", i, "muxes"),
                          f"give either mux ({lb.mux}) or muxes, not both: muxes: [{lb.mux}, ...] says it all")
        yield from problems.duplicates(("load_balancers", i, "muxes"), enumerate(lb.muxes), "mux")


@_needs("load_balancers", "tor")
def _lb_spread_needs_bgp(t: Topology) -> Iterator[Problem]:
    for i, lb in indexed(t.load_balancers):
        if len(lb.muxes) > 1 and t.tor.routing != "bgp":
            yield Problem(("load_balancers", i, "muxes"),
                          f"{len(lb.muxes)} muxes need tor.routing: bgp (static routing sends each VIP "
                          "to one MUX); set tor.routing: bgp or list one mux")


def _maybe_mux(t: Topology, name: str) -> bool:
    """A name that is no known server may be a mux that did not validate."""
    return all(s.name != name for s in t.servers) and may_exist(t.servers, name)


@_needs("load_balancers", "tenants", "vms")
def _lb_members(t: Topology) -> Iterator[Problem]:
    tenants = [x.name for x in t.tenants]
    vms = {v.name: v for v in t.vms}
    for i, lb in indexed(t.load_balancers):
        if lb.tenant not in tenants:
            if not may_exist(t.tenants, lb.tenant):
                yield Problem(("load_balancers", i, "tenant"), problems.unknown("tenant", lb.tenant, tenants))
            continue
        for j, backend in enumerate(lb.backends):
            vm = vms.get(backend)
            path = ("load_balancers", i, "backends", j)
            if vm is None and not may_exist(t.vms, backend):
                mine = [v.name for v in t.vms if v.tenant == lb.tenant]
                yield Problem(
                    path,
                    f"unknown VM '{backend}' in the backend pool{did_you_mean(backend, mine)}; "
                    f"VMs of tenant '{lb.tenant}': {', '.join(mine) or 'none'}",
                )
            elif vm is not None and vm.tenant != lb.tenant:
                yield Problem(path, f"VM '{backend}' is in tenant '{vm.tenant}', not '{lb.tenant}'")


@_needs("load_balancers", "external", "tenants")
def _vips(t: Topology) -> Iterator[Problem]:
    pool = t.external.vip_pool
    for path, fe in _frontends(t):
        if fe.vip not in pool or fe.vip in (pool.network_address, pool.broadcast_address):
            yield Problem(
                (*path, "vip"),
                f"VIP {fe.vip} is not routable: the ToR routes only external.vip_pool {pool} to the MUXes",
            )
        for tenant in t.tenants:
            for sub in tenant.subnets:
                if fe.vip in sub.prefix:
                    yield Problem(
                        (*path, "vip"),
                        f"VIP {fe.vip} overlaps subnet '{sub.name}' {sub.prefix} of tenant '{tenant.name}'",
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
                path, f"conflicting rule: {fe.vip}:{fe.port}/{fe.protocol} is already {format_path(rules[key])}"
            )
        rules.setdefault(key, path)
        ha, first = kinds.setdefault(fe.vip, (fe.is_ha_ports, path))
        if ha != fe.is_ha_ports:
            yield Problem(
                path,
                f"ambiguous: VIP {fe.vip} mixes an HA-ports rule with a specific "
                f"port rule ({format_path(first)}); use one kind of rule per VIP",
            )


@_needs("load_balancers")
def _backend_ports(t: Topology) -> Iterator[Problem]:
    """The backend's host maps a remapped port back to the frontend port on the
    reply; that is only unambiguous when, per VIP and protocol, no backend_port
    is also another rule's port or backend_port."""
    frontends = list(_frontends(t))
    for n, (path, fe) in enumerate(frontends):
        if fe.backend_port is None:
            continue
        for m, (other_path, other) in enumerate(frontends):
            if m == n or (other.vip, other.protocol) != (fe.vip, fe.protocol):
                continue
            if fe.backend_port == other.port:
                clash = "port"
            elif fe.backend_port == other.backend_port and m < n:
                clash = "backend_port"
            else:
                continue
            yield Problem(
                (*path, "backend_port"),
                f"backend_port {fe.backend_port} is also the {clash} of {format_path(other_path)} "
                f"on {fe.vip}/{fe.protocol}: the backend's host could not tell the two rules apart "
                "when it maps the port back; pick a port no other rule of this VIP uses",
            )


def _frontends(t: Topology) -> Iterator[tuple[Path, Frontend]]:
    for i, lb in indexed(t.load_balancers):
        for j, fe in enumerate(lb.frontends):
            yield ("load_balancers", i, "frontends", j), fe
