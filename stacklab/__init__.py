"""stacklab as a Python library: describe a lab, bring it up, prove it, take it down.

    import stacklab

    topology = stacklab.load("topologies/minimal.yaml")   # TopologyError lists every problem
    plan = stacklab.plan(topology)                         # pure: no root, nothing touched
    for change in stacklab.up(plan, dry_run=True):         # what `up` would do
        print(change)
    stacklab.up(plan)                                      # root: converge the lab to the plan
    result = stacklab.verify(plan, only=["fabric"])        # checks, recorded in the lab's history
    print(result.passed, result.exit_code)                 # the exit code `lab verify` would give
    stacklab.down(plan.lab)                                # removes everything the lab created

The same library the `lab` command runs (docs/api.md); this package is the
stable face of it. It prints nothing but the progress of a verify run (to
stderr; `progress=False` silences it) and raises the errors named below.
"""

from __future__ import annotations

from collections.abc import Sequence
from os import PathLike
from typing import TYPE_CHECKING, Any

from lab.model.loader import TopologyError, TopologyIssue
from lab.providers.embedded import OwnershipError
from lab.providers.state import LabBusyError, NoSuchLabError
from lab.report.runs import RetentionError
from lab.report.verification import GROUPS, LabNotUpError, UnknownGroupError

if TYPE_CHECKING:
    from lab.apply.changes import Change
    from lab.model.topology import Topology
    from lab.plan.model import Plan
    from lab.verify.runner import VerifyRun

__all__ = ["GROUPS", "LabBusyError", "LabNotUpError", "NeedsRootError", "NoSuchLabError", "OwnershipError",
           "RetentionError", "TopologyError", "TopologyIssue", "UnknownGroupError", "down", "labs", "load", "plan",
           "status", "up", "verify"]


class NeedsRootError(PermissionError):
    """Changing or probing a lab's namespaces needs root (run the script with sudo)."""


def _require_root(what: str) -> None:
    import os

    if os.geteuid() != 0:
        raise NeedsRootError(f"{what} needs root")


def load(path: str | PathLike[str]) -> Topology:
    """Read and validate a topology file; TopologyError carries every problem
    (`.issues`, each with its YAML path, line and message)."""
    from lab.model.loader import load_topology

    return load_topology(path)


def plan(topology: Topology) -> Plan:
    """The per-host desired state the topology turns into (pure)."""
    from lab.plan.planner import build_plan

    return build_plan(topology)


def up(plan: Plan, dry_run: bool = False) -> list[Change]:
    """Converge the lab to `plan` and return what changed (idempotent: a
    second call returns []); with dry_run, what would change, touching
    nothing. Raises LabBusyError (another up/down holds the lab) or
    OwnershipError (a namespace of that name belongs to someone else)."""
    from lab.providers import select

    if not dry_run:
        _require_root("bringing a lab up")
    return select("embedded").up(plan, dry_run=dry_run).changes


def verify(plan: Plan, only: Sequence[str] | None = None, keep: int | None = None,
           progress: bool = True) -> VerifyRun:
    """Run the checks of a lab that is up with `plan` (those of the `only`
    groups, see GROUPS) and record the run in its history. The result has
    `.results` (CheckResult: name, group, verdict, measured, target,
    evidence), `.passed`, `.exit_code` (0 all good, 1 a spec not met, 4 the
    rig could not measure), `.run_id` and `.run_dir`. Raises
    UnknownGroupError, RetentionError, LabNotUpError (nothing is up under
    that name) or NeedsRootError."""
    from lab.report.verification import check_groups, running_plan, verify_lab

    check_groups(only)
    _require_root("verifying a lab")
    running_plan(plan.lab)
    console = None
    if not progress:
        import io

        from rich.console import Console

        console = Console(file=io.StringIO())
    return verify_lab(plan, only, keep, console=console)


def status(name: str) -> dict[str, Any]:
    """What exists of lab `name` and whether it matches its plan (the
    `lab status --format json` document). Raises NoSuchLabError."""
    from lab.providers import select
    from lab.providers.state import require_lab

    require_lab(name)
    return select("embedded").status(name)


def down(name: str) -> list[str]:
    """Remove everything lab `name` created; returns what went ([] when
    nothing was there). Raises LabBusyError or NeedsRootError."""
    from lab.providers import select

    _require_root("taking a lab down")
    return select("embedded").down(name)


def labs() -> list[str]:
    """The labs this host holds."""
    from lab.providers.state import known_labs

    return known_labs()
