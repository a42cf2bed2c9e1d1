"""The lab's BMC seen as an operator sees a real one: through Redfish, with
the `sushy` client and the lab's BMC credentials from the secret store.

Embedded, the Redfish Systems are the lab's libvirt domains (its VMs). The
servers themselves are network namespaces: a namespace has no firmware and
no power to switch, so their power is not modelled; `lab bmc status` shows
them as such instead of inventing a state.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sushy
from sushy import auth as sushy_auth

from lab.ops import bmc
from lab.ops.secret_store import load

POWER_ACTIONS = {"on": sushy.ResetType.ON, "off": sushy.ResetType.FORCE_OFF,
                 "cycle": sushy.ResetType.FORCE_RESTART}
BOOT_DEVICES = {"disk": sushy.BootSource.HDD, "pxe": sushy.BootSource.PXE, "cd": sushy.BootSource.CD}


class BmcError(RuntimeError):
    """The BMC cannot be reached or refused the request (names why)."""


class UnknownSystem(LookupError):
    """No Redfish system of that name in the lab."""


@contextmanager
def session(lab: str, password: str | None = None) -> Iterator[sushy.Sushy]:
    """A Redfish connection to the lab's BMC (no retries: fail fast)."""
    base = bmc.url(lab)
    creds = load(lab, "bmc")
    if base is None or creds is None:
        raise BmcError(f"lab {lab} has no BMC (no emulator config or credentials): run `lab up`")
    auth = sushy_auth.BasicAuth(creds.value["username"], password or creds.value["password"])
    try:
        conn = sushy.Sushy(base, auth=auth, server_side_retries=0, connect_timeout=2, read_timeout=15)
    except (sushy.exceptions.SushyError, OSError) as exc:
        raise BmcError(f"BMC of lab {lab} at {base} does not answer: {exc}") from None
    yield conn


def _systems(conn: sushy.Sushy) -> dict[str, Any]:
    return {s.name: s for s in conn.get_system_collection().get_members()}


def systems(lab: str) -> list[dict[str, Any]]:
    try:
        with session(lab) as conn:
            return [{"name": name.removeprefix(f"{lab}."), "domain": name, "uuid": s.uuid,
                     "power": s.power_state.value if s.power_state else None,
                     "boot": (s.boot.target.value if s.boot and s.boot.target else None)}
                    for name, s in sorted(_systems(conn).items())]
    except sushy.exceptions.SushyError as exc:
        raise BmcError(f"BMC of lab {lab}: {exc}") from None


def managers(lab: str) -> list[str]:
    """Names of the managers the BMC lists (isolation: only the lab's)."""
    with session(lab) as conn:
        return sorted(m.name for m in conn.get_manager_collection().get_members())


def _system(conn: sushy.Sushy, lab: str, name: str):
    found = _systems(conn)
    domain = f"{lab}.{name}"
    if domain not in found:
        known = ", ".join(n.removeprefix(f"{lab}.") for n in sorted(found)) or "none"
        raise UnknownSystem(f"lab {lab} has no BMC system {name!r} (its systems: {known})")
    return found[domain]


def power(lab: str, name: str, action: str) -> str:
    try:
        with session(lab) as conn:
            system = _system(conn, lab, name)
            system.reset_system(POWER_ACTIONS[action])
            system.refresh()
            return system.power_state.value
    except sushy.exceptions.SushyError as exc:
        raise BmcError(f"BMC of lab {lab}: power {action} {name}: {exc}") from None


def boot_device(lab: str, name: str, device: str) -> str:
    try:
        with session(lab) as conn:
            system = _system(conn, lab, name)
            system.set_system_boot_options(target=BOOT_DEVICES[device],
                                           enabled=sushy.BootSourceOverrideEnabled.CONTINUOUS)
            system.refresh()
            return system.boot.target.value
    except sushy.exceptions.SushyError as exc:
        raise BmcError(f"BMC of lab {lab}: boot-device {device} {name}: {exc}") from None
