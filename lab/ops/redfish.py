"""The lab's BMCs seen as an operator sees real ones: through Redfish, with
the `sushy` client and the lab's BMC credentials from the secret store.

Each server has its own BMC (lab.plan.hlh); its Systems are the server
itself and its VMs. The BMCs listen on the lifecycle host's out-of-band
network, its own namespace: the client's sockets are opened inside it
(never from the root namespace). A name given by the operator is a server
or a VM; a server's name wins when both exist.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import requests
import sushy
from requests.adapters import HTTPAdapter
from sushy import auth as sushy_auth
from sushy import connector as sushy_connector
from urllib3.connection import HTTPConnection
from urllib3.connectionpool import HTTPConnectionPool

from lab.apply.netns import inside
from lab.ops import bmc
from lab.ops.secret_store import load
from lab.plan.model import BmcPlan

POWER_ACTIONS = {"on": sushy.ResetType.ON, "off": sushy.ResetType.FORCE_OFF,
                 "cycle": sushy.ResetType.FORCE_RESTART}
BOOT_DEVICES = {"disk": sushy.BootSource.HDD, "pxe": sushy.BootSource.PXE, "cd": sushy.BootSource.CD}
CONNECT_TIMEOUT_S = 2
READ_TIMEOUT_S = 60  # a server's power-on applies its plan and starts its VMs


class BmcError(RuntimeError):
    """The BMC answered but refused or failed the request (names why)."""


class BmcUnreachable(BmcError):
    """No BMC to talk to: not configured, or it does not answer (the rig could not act)."""


class UnknownSystem(LookupError):
    """No server or VM of that name in the lab."""


@dataclass(frozen=True)
class Target:
    """What a name given by the operator stands for."""

    name: str
    kind: str  # server or vm
    bmc: BmcPlan
    namespace: str  # the lifecycle host's


def namespace_adapter(namespace: str) -> HTTPAdapter:
    """A requests adapter whose connections are opened inside `namespace`."""
    class InNamespace(HTTPConnection):
        def _new_conn(self):  # type: ignore[no-untyped-def]
            with inside(namespace):
                return super()._new_conn()

    class Pool(HTTPConnectionPool):
        ConnectionCls = InNamespace

    class Adapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = {"http": Pool}

    return Adapter()


def _endpoints(lab: str) -> tuple[str, list[BmcPlan]]:
    found = bmc.endpoints(lab)
    if found is None:
        raise BmcUnreachable(f"lab {lab} has no BMC (no emulator config): run `lab up`")
    return found


def resolve(lab: str, name: str) -> Target:
    namespace, bmcs = _endpoints(lab)
    for b in bmcs:
        if b.server == name:
            return Target(name, "server", b, namespace)
    for b in bmcs:
        if name in b.vms:
            return Target(name, "vm", b, namespace)
    servers = ", ".join(b.server for b in bmcs) or "none"
    vms = ", ".join(v for b in bmcs for v in b.vms) or "none"
    raise UnknownSystem(f"lab {lab} has no server or VM {name!r} with a BMC (servers: {servers}; VMs: {vms})")


@contextmanager
def session(lab: str, target: BmcPlan, namespace: str, password: str | None = None) -> Iterator[sushy.Sushy]:
    """A Redfish connection to one server's BMC (no retries: fail fast)."""
    creds = load(lab, "bmc")
    if creds is None:
        raise BmcUnreachable(f"lab {lab} has no BMC credentials: run `lab up`")
    base = bmc.url(target)
    http = requests.Session()  # sushy's public connector (registries): in the namespace too
    http.mount("http://", namespace_adapter(namespace))
    conn = sushy_connector.Connector(base, server_side_retries=0, default_request_timeout=READ_TIMEOUT_S,
                                     connect_timeout=CONNECT_TIMEOUT_S)
    conn._session.mount("http://", namespace_adapter(namespace))
    auth = sushy_auth.BasicAuth(creds.value["username"], password or creds.value["password"])
    try:
        client = sushy.Sushy(base, auth=auth, connector=conn, public_connector=http)
    except sushy.exceptions.ConnectionError as exc:
        raise BmcUnreachable(f"BMC of {target.server} ({base} in {namespace}) does not answer: "
                             f"{_first_line(exc)}") from None
    except (sushy.exceptions.SushyError, OSError) as exc:
        raise BmcError(f"BMC of {target.server} ({base}): {_first_line(exc)}") from None
    try:
        yield client
    except sushy.exceptions.ConnectionError as exc:
        raise BmcUnreachable(f"BMC of {target.server} ({base}) stopped answering: {_first_line(exc)}") from None
    except sushy.exceptions.SushyError as exc:
        raise BmcError(f"BMC of {target.server}: {_first_line(exc)}") from None
    finally:
        http.close()


def _first_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300]


def _row(lab: str, b: BmcPlan, system: Any) -> dict[str, Any]:
    name = system.name.removeprefix(f"{lab}.")
    return {"name": name, "domain": system.name, "uuid": system.uuid, "server": b.server,
            "kind": "server" if name == b.server else "vm",
            "power": system.power_state.value if system.power_state else None,
            "boot": system.boot.target.value if system.boot and system.boot.target else None}


def bmc_systems(lab: str, b: BmcPlan, namespace: str) -> list[dict[str, Any]]:
    """The systems one BMC lists (raises BmcUnreachable / BmcError)."""
    with session(lab, b, namespace) as conn:
        members = conn.get_system_collection().get_members()
        return sorted((_row(lab, b, s) for s in members), key=lambda r: (r["kind"] != "server", r["name"]))


def survey(lab: str, servers: list[str] | None = None) -> list[dict[str, Any]]:
    """Every BMC (or those of `servers`): its URL and systems, or why it did not answer."""
    namespace, bmcs = _endpoints(lab)
    rows = []
    for b in bmcs:
        if servers is not None and b.server not in servers:
            continue
        row: dict[str, Any] = {"server": b.server, "url": bmc.url(b), "namespace": namespace,
                               "expected": sorted([b.server, *b.vms])}
        try:
            row |= {"answered": True, "systems": bmc_systems(lab, b, namespace)}
        except BmcError as exc:
            row |= {"answered": False, "unreachable": isinstance(exc, BmcUnreachable), "error": str(exc),
                    "systems": []}
        rows.append(row)
    return rows


def _system(conn: sushy.Sushy, lab: str, target: Target):
    for s in conn.get_system_collection().get_members():
        if s.name == f"{lab}.{target.name}":
            return s
    raise BmcError(f"BMC of {target.bmc.server} does not list {target.kind} {target.name} "
                   f"(its domain is missing? run `lab up`)")


def power(lab: str, name: str, action: str) -> dict[str, Any]:
    target = resolve(lab, name)
    with session(lab, target.bmc, target.namespace) as conn:
        system = _system(conn, lab, target)
        system.reset_system(POWER_ACTIONS[action])
        system.refresh()
        return {"server": target.bmc.server, "kind": target.kind, "bmc": bmc.url(target.bmc),
                "power": system.power_state.value}


def boot_device(lab: str, name: str, device: str) -> dict[str, Any]:
    target = resolve(lab, name)
    with session(lab, target.bmc, target.namespace) as conn:
        system = _system(conn, lab, target)
        system.set_system_boot_options(target=BOOT_DEVICES[device],
                                       enabled=sushy.BootSourceOverrideEnabled.CONTINUOUS)
        system.refresh()
        return {"server": target.bmc.server, "kind": target.kind, "bmc": bmc.url(target.bmc),
                "boot": system.boot.target.value}
