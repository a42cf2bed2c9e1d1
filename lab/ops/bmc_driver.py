"""What each BMC endpoint of the lifecycle host serves: one server's Redfish
Systems, namely the server itself and its planned VMs.

One emulator process serves every server's BMC (lab.ops.bmc_server); the
endpoint a request arrived at (its local port, one per server in the plan)
says which BMC it is. The VMs are libvirt domains through sushy-tools'
libvirt driver, narrowed to domains named `<lab>.<vm>`, carrying the lab's
ownership mark and planned on this server: another lab's domains, an
unmarked look-alike and another server's VMs do not exist for this BMC.
The server itself is a system of its own whose power is the model of
lab.ops.power; what a namespace does not have (firmware, BIOS, boot order,
NICs, processors) answers 501 Not Implemented. Each BMC has one Manager (the
BMC) managing its systems.
"""

from __future__ import annotations

import threading
import uuid as uuidlib
from dataclasses import dataclass, field
from typing import Any

import flask
import libvirt
from sushy_tools import error
from sushy_tools.emulator.resources import managers as mgrdriver
from sushy_tools.emulator.resources.systems import libvirtdriver

from lab.compute.domain_xml import read_metadata
from lab.ops import power
from lab.plan.model import BmcPlan, Plan

SERVER_RESETS = {"On": "on", "ForceOn": "on", "ForceOff": "off", "GracefulShutdown": "off",
                 "ForceRestart": "cycle", "GracefulRestart": "cycle", "PowerCycle": "cycle"}
# identity-first driver methods; a server answers those it has a `_server_*` for, else 501
IDENTITY_METHODS = ("uuid", "name", "get_power_state", "set_power_state", "get_boot_device",
                    "set_boot_device", "get_boot_mode", "set_boot_mode", "get_secure_boot",
                    "set_secure_boot", "get_total_memory", "get_total_cpus", "get_bios", "set_bios",
                    "reset_bios", "get_versions", "set_versions", "reset_versions", "get_nics",
                    "get_boot_image", "set_boot_image", "get_simple_storage_collection",
                    "get_processors", "get_http_boot_uri")


@dataclass
class Context:
    """The plan the emulator serves and the lock its power actions share."""

    plan: Plan
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        assert self.plan.lifecycle_host is not None
        self.by_port = {b.port: b for b in self.plan.lifecycle_host.bmcs}

    def current(self) -> BmcPlan:
        """The BMC the current request reached (by the port it arrived on)."""
        return self.by_port[int(flask.request.environ["SERVER_PORT"])]

    def server_uuid(self, server: str) -> str:
        return str(uuidlib.uuid5(uuidlib.NAMESPACE_URL, f"{self.plan.mark}/server/{server}"))

    def server_name(self, server: str) -> str:
        return f"{self.plan.lab}.{server}"


def _vm_of(dom: libvirt.virDomain, ctx: Context) -> str | None:
    """The planned VM name of a domain the lab owns, else None."""
    if not dom.name().startswith(f"{ctx.plan.lab}."):
        return None
    try:
        meta = read_metadata(dom.XMLDesc())
    except libvirt.libvirtError:
        return None
    return meta.get("vm") if meta and meta.get("mark") == ctx.plan.mark else None


def _dispatch(name: str):
    parent = getattr(libvirtdriver.LibvirtDriver, name)

    def method(self, identity, *args, **kwargs):
        server = self._server_of(identity)
        if server is None:
            return parent(self, identity, *args, **kwargs)
        own = getattr(self, f"_server_{name}", None)
        if own is None:
            raise error.NotSupportedError(f"server {server} is a network namespace: it has no firmware, "
                                          f"so {name.split('_', 1)[-1]} is not modelled")
        return own(server, identity, *args, **kwargs)

    method.__name__ = name
    return method


def lab_driver(ctx: Context) -> type:
    class LabDriver(libvirtdriver.LibvirtDriver):
        """sushy-tools' libvirt driver seeing one server's VMs, plus the server."""

        @property
        def systems(self) -> list[str]:
            bmc = ctx.current()
            with libvirtdriver.libvirt_open(self._uri, readonly=True) as conn:
                vms = [d.UUIDString() for d in conn.listAllDomains() if _vm_of(d, ctx) in bmc.vms]
            return [ctx.server_uuid(bmc.server), *vms]

        def _server_of(self, identity: str) -> str | None:
            bmc = ctx.current()
            return bmc.server if identity in (ctx.server_uuid(bmc.server), ctx.server_name(bmc.server)) else None

        def _get_domain(self, identity, readonly=False):
            # the parent's memo keys on keyword names, not values: call it as its own callers do
            parent = super()._get_domain
            try:
                dom = parent(identity, readonly=True) if readonly else parent(identity)
            except error.AliasAccessError as alias:
                with libvirtdriver.libvirt_open(self._uri, readonly=True) as conn:
                    dom = conn.lookupByUUIDString(str(alias))
                self._check_mine(dom, identity)
                raise
            self._check_mine(dom, identity)
            return dom

        def _check_mine(self, dom: libvirt.virDomain, identity: str) -> None:
            if _vm_of(dom, ctx) not in ctx.current().vms:
                raise error.NotFound(f"no system {identity} on this BMC")

        def set_power_state(self, identity, state):
            server = self._server_of(identity)
            if server is not None:
                return self._server_set_power_state(server, identity, state)
            dom = self._get_domain(identity)
            vm = ctx.plan.endpoint(str(_vm_of(dom, ctx)))
            if state not in ("On", "ForceOn", "ForceRestart"):
                return super().set_power_state(identity, state)
            if state == "ForceRestart" and not dom.isActive():
                return None  # as sushy-tools: restarting a VM that is off does nothing
            with ctx.lock:
                try:
                    power.start_vm(ctx.plan, vm, restart=state == "ForceRestart")
                except power.PowerError as exc:
                    raise error.Conflict(str(exc)) from None
                except Exception as exc:  # noqa: BLE001 - libvirt, leases, tap: the BMC's 500
                    raise error.FishyError(f"VM {vm.name}: {exc}") from None
            return None

        def _server_uuid(self, server: str, identity: str) -> str:
            if identity != ctx.server_uuid(server):
                raise error.AliasAccessError(ctx.server_uuid(server))
            return identity

        def _server_name(self, server: str, identity: str) -> str:
            return ctx.server_name(server)

        def _server_get_power_state(self, server: str, identity: str) -> str:
            return power.server_state(ctx.plan.lab, server)

        def _server_get_boot_device(self, server: str, identity: str) -> None:
            return None  # no firmware, no boot override

        def _server_set_power_state(self, server: str, identity: str, state: str) -> None:
            action = SERVER_RESETS.get(state)
            if action is None:
                raise error.NotSupportedError(f"reset {state} is not modelled for server {server}")
            with ctx.lock:
                try:
                    if action in ("off", "cycle"):
                        power.power_off(ctx.plan, server)
                    if action in ("on", "cycle"):
                        power.power_on(ctx.plan, server)
                except Exception as exc:  # noqa: BLE001 - the BMC's 500, with the cause
                    raise error.FishyError(f"server {server}: power {action}: {exc}") from None

    for name in IDENTITY_METHODS:
        if name != "set_power_state":
            setattr(LabDriver, name, _dispatch(name))
    return LabDriver


class BmcManagers(mgrdriver.FakeDriver):
    """One Manager per BMC (the BMC itself), managing the server and its VMs."""

    def __init__(self, config: Any, logger: Any, systems: Any, chassis: Any, ctx: Context):
        super().__init__(config, logger, systems, chassis)
        self._ctx = ctx

    def _own(self) -> str:
        return self._ctx.server_uuid(self._ctx.current().server)

    @property
    def managers(self) -> list[str]:
        return [self._own()]

    def get_manager(self, identity: str) -> dict:
        bmc = self._ctx.current()
        if identity == self._ctx.server_name(bmc.server):
            raise error.AliasAccessError(self._own())
        if identity != self._own():
            raise error.NotFound(f"Manager with UUID {identity} was not found")
        return {"Id": identity, "UUID": identity, "Name": f"{bmc.server}-BMC"}

    def get_managed_systems(self, manager: dict) -> list[str]:
        return list(self._systems.systems)

    def get_managers_for_system(self, ident: str) -> list[str]:
        return [self._own()]
