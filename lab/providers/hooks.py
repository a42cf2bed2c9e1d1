"""Feature lifecycles plugged into the embedded provider after the fabric
(lab.features lists them; the fabric itself is the provider's phase list).
Up runs in registry order, down in reverse."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lab.apply.changes import Change
from lab.apply.journal import Journal
from lab.features import lifecycles
from lab.plan.model import Plan


def run_up(plan: Plan, journal: Journal, progress: Callable[[str], None]) -> list[Change]:
    return [c for m in lifecycles() if hasattr(m, "up") for c in m.up(plan, journal, progress)]


def diff_up(plan: Plan) -> list[Change]:
    return [c for m in lifecycles() if hasattr(m, "diff") for c in m.diff(plan)]


def run_down(lab: str, progress: Callable[[str], None]) -> list[str]:
    return [r for m in lifecycles(reverse=True) if hasattr(m, "down") for r in m.down(lab, progress)]


def status_sections(lab: str) -> dict[str, Any]:
    sections: dict[str, Any] = {}
    for m in lifecycles():
        if hasattr(m, "status"):
            sections.update(m.status(lab))
    return sections
