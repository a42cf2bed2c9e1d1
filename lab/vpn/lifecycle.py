"""The VPN's part of `lab up` / `lab down` / `lab status` (see
lab.providers.hooks): per VPN gateway its secret, a daemon per end (the site,
each gateway instance) with the planned config, the tunnel's routes, the
instances' forwarding filter and the tenant gateway's route to the site; the
pair monitor when a pair exists.

`diff` lists every difference with its action and `up` applies exactly
those. Every daemon is journaled before it starts; `down` stops them by pid
file and, for a start a crash interrupted, by namespace (lab.vpn.daemon).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from lab.apply.changes import Change
from lab.apply.journal import Journal
from lab.apply.netns import namespace_exists
from lab.ops import secrets
from lab.ops.secret_store import load, secrets_dir
from lab.plan.model import Plan
from lab.plan.vpn_model import VpnSpec
from lab.vpn import daemon, ends, firewall, monitor_proc, routes
from lab.vpn.render import End
from lab.vpn.state import load_specs, save_specs, serving

Progress = Callable[[str], None]
SETTLE_S = 20.0


def _quiet(_: str) -> None:
    pass


def diff(plan: Plan, journal: Journal | None = None) -> list[Change]:
    changes = _retired(plan)
    for vpn in plan.vpns:
        changes += _secret(vpn, journal)
        for end in ends.all_ends(vpn):
            changes += _end(vpn, end, journal)
        for inst in vpn.instances:
            changes += firewall.diff(vpn, inst) if namespace_exists(inst.namespace) else [
                Change(inst.host, "create", "vpn-filter", f"forward {vpn.site_subnet} <-> tenant only", _noop)]
        changes += _tenant_route(vpn)
    if any(v.pair for v in plan.vpns) and monitor_proc.running(plan.lab) is None:
        def start_monitor() -> None:
            if journal is not None:
                journal.record("process", f"vpn-monitor:{plan.lab}", "the VPN pair monitor")
            monitor_proc.start(plan.lab)

        changes.append(Change("vpn", "create", "process", "pair monitor", start_monitor))
    return changes


def _noop() -> None:
    pass


def _secret(vpn: VpnSpec, journal: Journal | None) -> list[Change]:
    if load(vpn.lab, vpn.secret) is not None:
        return []

    def make() -> None:
        if journal is not None:
            journal.record("dir", str(secrets_dir(vpn.lab)), "the lab's secrets (0600 files)")
        secrets.ensure_item(vpn.lab, vpn.secret, f"vpn-{vpn.protocol}")

    return [Change(vpn.name, "create", "secret", vpn.secret, make)]


def start_end(vpn: VpnSpec, end: End, journal: Journal | None) -> None:
    """Start one end's daemon (journaled first), configure it, route into its tunnel."""
    if journal is not None:
        journal.record("process", f"vpn:{end.host}", f"{end.namespace} {ends.binary(vpn)}")
    ends.start(vpn, end)
    _routes(vpn, end)


def revive(lab: str, vpn: VpnSpec, host: str) -> None:
    """Start one instance again after a crash (the failover check), touching nothing else."""
    end = ends.instance_end(vpn, host)
    if ends.running(vpn, end) is None:
        start_end(vpn, end, Journal(lab))


def _end(vpn: VpnSpec, end: End, journal: Journal | None) -> list[Change]:
    binary = ends.binary(vpn)
    if ends.running(vpn, end) is None:
        def start() -> None:
            start_end(vpn, end, journal)

        what = f"{binary.rsplit('/', 1)[-1]} {end.ifname} ({end.role})"
        return [Change(end.host, "create", "vpn-daemon", what, start)]
    changes = []
    found = ends.drift(vpn, end)
    if found:
        changes.append(Change(end.host, "update", "vpn-config", ", ".join(found),
                              lambda: ends.reconfigure(vpn, end)))
    wanted = routes.tunnel_routes(vpn, end, serving(vpn))
    missing, extra = routes.missing_and_extra(end.namespace, wanted, vpn.route_protocol)
    if missing or extra:
        changes.append(Change(end.host, "update", "route", ", ".join(map(str, missing)) or "unplanned routes",
                              lambda: _routes(vpn, end)))
    return changes


def _routes(vpn: VpnSpec, end: End) -> None:
    routes.link_up(end.namespace, end.ifname)
    routes.converge(end.namespace, routes.tunnel_routes(vpn, end, serving(vpn)), vpn.route_protocol)


def _tenant_route(vpn: VpnSpec) -> list[Change]:
    wanted = [routes.tenant_route(vpn, serving(vpn))]
    ns = vpn.tenant_gateway_namespace
    if namespace_exists(ns):
        missing, extra = routes.missing_and_extra(ns, wanted, vpn.route_protocol)
        if not missing and not extra:
            return []
    return [Change(vpn.tenant_gateway, "create", "route", str(wanted[0]),
                   lambda: routes.converge(ns, wanted, vpn.route_protocol) and None)]


def _retired(plan: Plan) -> list[Change]:
    """Daemons of VPN ends the plan no longer has (their namespace may be gone already)."""
    planned = {e.host for v in plan.vpns for e in ends.all_ends(v)}
    changes = []
    for vpn in load_specs(plan.lab):
        for end in ends.all_ends(vpn):
            pid = ends.running(vpn, end)
            if end.host not in planned and pid:
                changes.append(Change(end.host, "delete", "vpn-daemon", f"pid {pid}",
                                      lambda p=pid: daemon.stop([p])))
    return changes


def up(plan: Plan, journal: Journal, progress: Progress = _quiet) -> list[Change]:
    changes = diff(plan, journal)
    if plan.vpns or load_specs(plan.lab):
        save_specs(plan.lab, plan.vpns)
    for change in changes:
        progress(f"vpn: {change.action} {change.kind} {change.host}")
        change.apply()
    if any(c.kind == "vpn-daemon" and c.action == "create" for c in changes):
        settle(plan.vpns)
    return changes


def settle(vpns: list[VpnSpec], timeout: float = SETTLE_S) -> bool:
    """Bounded wait until every tunnel is up at its site (the checks report one that is not)."""
    deadline = time.monotonic() + timeout
    while not all(ends.tunnel(v, ends.site_end(v))["up"] for v in vpns):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def down(lab: str, progress: Progress = _quiet) -> list[str]:
    removed = []
    if monitor_proc.stop(lab):
        removed.append(f"vpn pair monitor of {lab}")
    journal = Journal(lab)
    for res in journal.resources("process"):
        if not res.name.startswith("vpn:"):
            continue
        namespace, _, binary = res.detail.partition(" ")
        pids = daemon.in_namespace(namespace, binary)
        if pids:
            progress(f"vpn daemons of {res.name[4:]}")
            daemon.stop(pids)
            removed += [f"{binary.rsplit('/', 1)[-1]} of {res.name[4:]}"]
    for vpn in load_specs(lab):  # a daemon whose namespace is gone already: by pid file
        for end in ends.all_ends(vpn):
            pid = ends.running(vpn, end)
            if pid:
                daemon.stop([pid])
                removed.append(f"{ends.binary(vpn).rsplit('/', 1)[-1]} of {end.host}")
    return removed


def status(lab: str) -> dict[str, Any]:
    vpns = load_specs(lab)
    if not vpns:
        return {}
    rows = {}
    for vpn in vpns:
        site = ends.site_end(vpn)
        rows[vpn.name] = {"protocol": vpn.protocol, "tenant": vpn.tenant, "serving": serving(vpn),
                          "daemons": {e.host: "running" if ends.running(vpn, e) else "down"
                                      for e in ends.all_ends(vpn)},
                          "tunnel": "up" if ends.tunnel(vpn, site)["up"] else "down"}
    return {"vpn": rows}
