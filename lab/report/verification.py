"""Verify a running lab and keep the run: the one orchestration behind
`lab verify`, `lab regress` and `stacklab.verify`.

Checks come from every feature (lab.verify.catalog) and read only the plan
the lab was brought up with; the run is recorded in the lab's results
directory (history row, JUnit, JSON report, evidence) and old run
directories are pruned. It lives at the report layer because keeping a run
is report's job (lab.verify measures, and does not import report). Errors
are exceptions a caller maps to its own words: the CLI to exit codes,
stacklab to its re-exported names.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from lab.features import CHECK_GROUPS as GROUPS
from lab.paths import results_dir
from lab.report.runs import RetentionError, keep_runs, new_run_dir, record_run
from lab.verify.catalog import checks_for
from lab.verify.runner import VerifyRun, run_checks, run_config, topology_hash

if TYPE_CHECKING:
    from rich.console import Console

    from lab.plan.model import Plan

__all__ = ["GROUPS", "LabNotUpError", "RetentionError", "UnknownGroupError", "plan_hash", "running_plan",
           "verify_lab"]

class UnknownGroupError(ValueError):
    """--only names a group no feature checks (bad input)."""


class LabNotUpError(LookupError):
    """The lab has no saved plan: never brought up, or its `up` did not finish."""


def check_groups(only: Sequence[str] | None) -> None:
    for group in only or ():
        if group not in GROUPS:
            raise UnknownGroupError(f"--only {group!r}: unknown group; use one of: {', '.join(GROUPS)}")


def running_plan(lab: str) -> Plan:
    """The plan `lab` was brought up with (what its checks verify)."""
    from lab.providers.embedded import saved_plan

    plan = saved_plan(lab)
    if plan is None:
        raise LabNotUpError(f"lab {lab} is not up: run `lab up` first")
    return plan


def plan_hash(plan: Plan) -> str:
    """The hash a run records as its `topology_hash`: of the plan, which every
    way of naming a lab (file, --lab, the Python API) has, and which changes
    exactly when the lab would."""
    return topology_hash(plan)


def verify_lab(plan: Plan, only: Sequence[str] | None = None, keep: int | None = None,
               console: Console | None = None, provider: str = "embedded") -> VerifyRun:
    """Run the lab's checks (those of the `only` groups), record the run,
    keep the last `keep` run directories (default $STACKLAB_KEEP_RUNS or 30).
    Raises UnknownGroupError or RetentionError before anything runs."""
    check_groups(only)
    keep = keep_runs(keep)
    directory = results_dir(plan.lab)
    run = run_checks(checks_for(plan), plan.lab, plan_hash(plan), run_config({"provider": provider}),
                     only=list(only) if only else None, console=console, run_dir=new_run_dir(directory))
    return record_run(run, directory, keep=keep)
