"""What every provider is (lab.providers.select picks one)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from lab.plan.model import Plan

Progress = Callable[[str], None]


def quiet(_: str) -> None:
    pass


class Provider(Protocol):
    name: str
    local: bool  # acts on this machine's kernel (needs root); else on the hosts of an inventory

    def up(self, plan: Plan, dry_run: bool = False, progress: Progress = quiet) -> Any:
        """Converge the lab to the plan (idempotent); with dry_run, only say what would change."""

    def down(self, lab: str, progress: Progress = quiet) -> Any:
        """Remove everything the lab created, and nothing else."""

    def status(self, lab: str) -> dict[str, Any]:
        """What exists of the lab, for `lab status`."""
