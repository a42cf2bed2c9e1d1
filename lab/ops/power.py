"""Power as the lab's BMCs switch it: a server (a network namespace) and its
VMs (libvirt domains).

A namespace has no firmware and no power supply, so a server's power is a
model with real effects, and the BMC keeps the record of what it switched:

- off: the server's VMs are forced off (libvirt destroy) and every link of
  its namespace goes down, as a server whose NICs lost power: the ToR sees
  no carrier, overlay traffic through the server stops.
- on: the server "boots": its host agent applies its plan again (the same
  phases as `lab up` and `lab apply-host`: links up, and the routes the
  kernel dropped when they went down), then its VMs start and their taps
  join the tenant bridges, as the hypervisor's virtual switch does.

Not modelled, and said in docs/ops.md: processes in the namespace (the MUX's
probe daemon and FRR, namespace stand-in endpoints) keep running, and its
kernel state other than routes survives, as a real server's would not.

A VM powered on or cycled through its BMC gets its tap plugged the same way;
a VM on a server that is off cannot be powered on (409 from the BMC).
"""

from __future__ import annotations

import json
from pathlib import Path

from pyroute2 import IPRoute

from lab.apply import phases
from lab.apply.changes import Change
from lab.apply.netns import inside
from lab.compute import libvirt_driver, paths
from lab.compute.converge import start_domain
from lab.compute.daemons import connect
from lab.compute.domain_xml import domain_name
from lab.ops.secret_store import write_private
from lab.paths import lab_dir
from lab.plan.model import EndpointPlan, Plan

ON, OFF = "On", "Off"
LOOPBACK_INDEX = 1


class PowerError(RuntimeError):
    """A power action that cannot be done (names the server or VM and why)."""


def record_path(lab: str) -> Path:
    return lab_dir(lab) / "bmc" / "power.json"


def records(lab: str) -> dict[str, str]:
    """Servers the BMCs powered off (a server not listed is on)."""
    try:
        return dict(json.loads(record_path(lab).read_text()))
    except (OSError, ValueError):
        return {}


def _record(lab: str, server: str, state: str) -> None:
    now = {k: v for k, v in records(lab).items() if k != server} | ({server: OFF} if state == OFF else {})
    write_private(record_path(lab), json.dumps(now))


def clear_records(lab: str) -> None:
    record_path(lab).unlink(missing_ok=True)


def server_state(lab: str, server: str) -> str:
    return records(lab).get(server, ON)


def _server_vms(plan: Plan, server: str) -> list[EndpointPlan]:
    return plan.vms(server)


def power_off(plan: Plan, server: str) -> None:
    """Record first (a crash midway still shows the server off), then act."""
    _record(plan.lab, server, OFF)
    conn = connect()
    try:
        for vm in _server_vms(plan, server):
            dom = libvirt_driver.lookup(conn, domain_name(plan.lab, vm.name))
            if dom is not None and dom.isActive():
                dom.destroy()
    finally:
        conn.close()
    with inside(plan.host(server).namespace):
        ipr = IPRoute()
    with ipr:
        for link in ipr.get_links():
            if link["index"] != LOOPBACK_INDEX and link["flags"] & 1:
                ipr.link("set", index=link["index"], state="down")


def power_on(plan: Plan, server: str) -> list[Change]:
    """The server's plan applied again, then its VMs started and plugged."""
    host = plan.host(server)
    namespace_of = {h.name: h.namespace for h in plan.hosts}
    keep = frozenset(vm.port for vm in _server_vms(plan, server))
    done: list[Change] = []
    with inside(host.namespace):
        ipr = IPRoute()
    with ipr:
        for _, phase in phases.host_phases(host, ipr, True, plan.mark, namespace_of, keep, prune=False):
            for change in phase():
                change.apply()
                done.append(change)
    _record(plan.lab, server, ON)  # powered: its VMs may start now
    for vm in _server_vms(plan, server):
        start_vm(plan, vm)
    return done


def start_vm(plan: Plan, vm: EndpointPlan, restart: bool = False) -> None:
    """Start (or, with `restart`, destroy and start) a VM and plug its tap."""
    if server_state(plan.lab, vm.server) == OFF:
        raise PowerError(f"VM {vm.name}: its server {vm.server} is powered off; power the server on first")
    name = domain_name(plan.lab, vm.name)
    conn = connect()
    try:
        dom = libvirt_driver.lookup(conn, name)
        if dom is None:
            raise PowerError(f"VM {vm.name}: domain {name} is not defined (run `lab up`)")
        if restart and dom.isActive():
            dom.destroy()
        if not dom.isActive():
            start_domain(conn, paths.default_lab_dir(plan.lab), vm, name)
    finally:
        conn.close()
    libvirt_driver.plumb_tap(vm)
