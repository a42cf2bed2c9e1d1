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


def _noop() -> None:
    pass


def diff(plan: Plan) -> list[Change]:
    changes = [Change("hlh", "create", "secret", name, _noop) for name in secrets.missing(plan.lab)]
    if not bmc.running(plan.lab):
        changes.append(Change("hlh", "create", "bmc", "Redfish emulator on 127.0.0.1", _noop))
    return changes


def up(plan: Plan, journal: Journal, progress: Progress) -> list[Change]:
    progress("secrets")
    if secrets.missing(plan.lab):
        journal.record("dir", str(secrets_dir(plan.lab)), "the lab's secrets (0600 files)")
    changes = [Change("hlh", "create", "secret", name, _noop) for name in secrets.ensure(plan.lab)]
    if not bmc.running(plan.lab):
        progress("BMC (Redfish emulator)")
        journal.record("process", f"bmc:{plan.lab}", "sushy-emulator of the lab")
        port = bmc.start(plan)
        changes.append(Change("hlh", "create", "bmc", f"Redfish emulator on 127.0.0.1:{port}", _noop))
    return changes


def down(lab: str, progress: Progress) -> list[str]:
    progress("BMC")
    return [f"bmc emulator of {lab}"] if bmc.stop(lab) else []


def status(lab: str) -> dict[str, Any]:
    rows = secrets.status(lab)
    return {"secrets": rows, "bmc": bmc.endpoint_status(lab)} if rows else {}
