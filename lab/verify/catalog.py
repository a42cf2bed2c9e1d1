"""Which checks a lab gets and which faults can be injected: every
feature's part (lab.features), built from the plan alone."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from lab.features import check_builders, fault_modules
from lab.verify.runner import Check

if TYPE_CHECKING:
    from lab.plan.model import Plan


def checks_for(plan: Plan) -> list[Check]:
    return [check for build in check_builders() for check in build(plan)]


def all_faults() -> dict[str, Callable[..., str]]:
    faults: dict[str, Callable[..., str]] = {}
    for module in fault_modules():
        faults.update(module.FAULTS)
    return faults


def clear_features(plan: Plan) -> list[str]:
    """Undo faults that `up` does not see (feature state outside the fabric)."""
    return [r for m in fault_modules() if hasattr(m, "clear") for r in m.clear(plan)]
