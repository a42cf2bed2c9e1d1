"""The embedded provider (lab.providers.embedded) behind lab.providers.Provider,
with the status of its labs (lab.providers.status)."""

from __future__ import annotations

from typing import Any

from lab.plan.model import Plan
from lab.providers import embedded
from lab.providers.base import Progress, quiet
from lab.providers.status import lab_status


class EmbeddedProvider:
    name = "embedded"
    local = True

    def up(self, plan: Plan, dry_run: bool = False, progress: Progress = quiet) -> embedded.UpReport:
        return embedded.up(plan, dry_run, progress)

    def down(self, lab: str, progress: Progress = quiet) -> list[str]:
        return embedded.down(lab, progress)

    def status(self, lab: str) -> dict[str, Any]:
        return lab_status(lab)
