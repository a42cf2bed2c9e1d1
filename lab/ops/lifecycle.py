"""The lifecycle host's part of `lab up` / `lab down` / `lab status` (see
lab.providers.hooks): its namespace, the lab's secrets (made on the first
`up`; a later `up` keeps them and their age: only `lab secrets rotate`
renews them) and the Redfish emulator serving every server's BMC. `up`
also powers on again a server its BMC powered off (the fabric and compute
phases before it have already brought its links, routes and VMs back; this
clears the BMC's record). `down` stops the emulator; the provider removes
the namespace (journalled and marked) and the secrets go with the lab
directory."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lab.apply.changes import Change
from lab.apply.journal import Journal
from lab.apply.netns import Sockets, create_namespace, namespace_exists
from lab.ops import bmc, power, secrets
from lab.ops.secret_store import secrets_dir
from lab.plan.model import Plan

Progress = Callable[[str], None]


def diff(plan: Plan, journal: Journal | None = None) -> list[Change]:
    """Exactly what `up` applies, in order (the BMC's ports are its outcome)."""
    record = journal.record if journal is not None else (lambda *_: None)
    hlh = plan.lifecycle_host
    changes: list[Change] = []
    if hlh is None:
        return changes
    if not namespace_exists(hlh.namespace):
        def make_namespace() -> None:
            record("netns", hlh.namespace, "the lifecycle host (out-of-band network of the BMCs)")
            with Sockets() as sockets:
                create_namespace(hlh.namespace, plan.mark, sockets)

        changes.append(Change("hlh", "create", "netns", hlh.namespace, make_namespace))
    missing = secrets.missing(plan.lab)
    if missing:
        def make_secrets() -> None:
            record("dir", str(secrets_dir(plan.lab)), "the lab's secrets (0600 files)")
            secrets.ensure(plan.lab)

        changes.append(Change("hlh", "create", "secret", ", ".join(missing), make_secrets))
    if not bmc.running(plan.lab) or bmc.config(plan.lab) != bmc.desired_config(plan):
        def start() -> None:
            record("process", f"bmc:{plan.lab}", f"Redfish emulator of the lab ({bmc.MODULE}, {plan.mark})")
            change.outcome = "(ports " + ", ".join(map(str, bmc.start(plan))) + ")"

        action = "update" if bmc.running(plan.lab) else "create"
        change = Change("hlh", action, "bmc", f"Redfish emulator in {hlh.namespace}: {len(hlh.bmcs)} BMC(s)", start)
        changes.append(change)
    off = sorted(power.records(plan.lab))
    if off:
        changes.append(Change("hlh", "update", "power", "on: " + ", ".join(off) + " (powered off through the BMC)",
                              lambda: power.clear_records(plan.lab)))
    return changes


def up(plan: Plan, journal: Journal, progress: Progress) -> list[Change]:
    changes = diff(plan, journal)
    for change in changes:
        progress(f"lifecycle host: {change.kind}")
        change.apply()
    return changes


def down(lab: str, progress: Progress) -> list[str]:
    progress("BMC")
    return [f"bmc emulator of {lab}"] if bmc.stop(lab) else []


def status(lab: str) -> dict[str, Any]:
    rows = secrets.status(lab)
    if not rows:
        return {}
    return {"secrets": rows, "bmc": bmc.endpoint_status(lab) | {"powered_off": sorted(power.records(lab))}}
