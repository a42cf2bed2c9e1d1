"""A Change is one difference between desired and actual state, with the
action that removes it. Appliers return them; `--dry-run` only prints them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Change:
    host: str
    action: str  # create, update, delete
    kind: str  # netns, link, address, route, fdb, neigh, sysctl, snat, vm ...
    target: str
    apply: Callable[[], None] = field(repr=False, compare=False)
    # what applying it found out (a provisioning script's result, the domain
    # type chosen); known only after `apply`, so never part of a dry run
    outcome: str = field(default="", compare=False)

    def __str__(self) -> str:
        return f"{self.action:<6} {self.kind:<7} {self.host}: {self.target}" + (
            f" {self.outcome}" if self.outcome else "")

    def to_json(self) -> dict[str, str]:
        data = {"host": self.host, "action": self.action, "kind": self.kind, "target": self.target}
        return data | {"outcome": self.outcome} if self.outcome else data
