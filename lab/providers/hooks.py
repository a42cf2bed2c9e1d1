"""Feature lifecycles plugged into the embedded provider after the fabric.

A feature module (e.g. lab.compute.lifecycle, lab.lb.lifecycle) may define:
  up(plan, journal, progress) -> list[Change]   applied changes (idempotent)
  diff(plan) -> list[Change]                    what up would change (dry run)
  down(lab, progress) -> list[str]              what it removed (no residue)
  status(lab) -> dict                           a section for `lab status`
Up runs in FEATURES order, down in reverse. Missing modules are skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

from lab.apply.changes import Change
from lab.features import optional_modules
from lab.plan.model import Plan
from lab.providers.state import Journal

FEATURES = ("lab.compute.lifecycle", "lab.lb.lifecycle")


def _modules(reverse: bool = False) -> list[ModuleType]:
    return optional_modules(FEATURES[::-1] if reverse else FEATURES)


def run_up(plan: Plan, journal: Journal, progress: Callable[[str], None]) -> list[Change]:
    return [c for m in _modules() if hasattr(m, "up") for c in m.up(plan, journal, progress)]


def diff_up(plan: Plan) -> list[Change]:
    return [c for m in _modules() if hasattr(m, "diff") for c in m.diff(plan)]


def run_down(lab: str, progress: Callable[[str], None]) -> list[str]:
    return [r for m in _modules(reverse=True) if hasattr(m, "down") for r in m.down(lab, progress)]


def status_sections(lab: str) -> dict[str, Any]:
    sections: dict[str, Any] = {}
    for m in _modules():
        if hasattr(m, "status"):
            sections.update(m.status(lab))
    return sections
