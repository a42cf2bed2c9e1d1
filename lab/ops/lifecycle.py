"""The lifecycle host's part of `lab up` / `lab down` / `lab status` (see
lab.providers.hooks): the lab's secrets are created on the first `up` (a
later `up` keeps them and their age: only `lab secrets rotate` renews
them), and the lab's Redfish BMC is started. `down` stops the BMC; the
secrets go with the lab directory."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lab.apply.changes import Change
from lab.apply.journal import Journal
from lab.ops import bmc, secrets
from lab.ops.secret_store import secrets_dir
from lab.plan.model import Plan

Progress = Callable[[str], None]


def diff(plan: Plan, journal: Journal | None = None) -> list[Change]:
    """The secrets not yet made and the BMC if it is not running, each with
    its action; `up` applies exactly these (the BMC's port is its outcome)."""
    missing = secrets.missing(plan.lab)

    def make_secrets() -> None:
        if journal is not None:
            journal.record("dir", str(secrets_dir(plan.lab)), "the lab's secrets (0600 files)")
        secrets.ensure(plan.lab)

    changes = [Change("hlh", "create", "secret", ", ".join(missing), make_secrets)] if missing else []
    if not bmc.running(plan.lab):
        def start() -> None:
            if journal is not None:
                journal.record("process", f"bmc:{plan.lab}", "sushy-emulator of the lab")
            change.outcome = f"(port {bmc.start(plan)})"

        change = Change("hlh", "create", "bmc", "Redfish emulator on 127.0.0.1", start)
        changes.append(change)
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
    return {"secrets": rows, "bmc": bmc.endpoint_status(lab)} if rows else {}
