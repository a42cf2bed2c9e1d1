"""The lab's resource journal: every resource is recorded before it is
created, so `lab down` finds and removes it even after a crash mid-`up`."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from lab.paths import lab_dir


@dataclass(frozen=True)
class Resource:
    kind: str  # netns, domain, disk, bpf-pin, file ...
    name: str
    detail: str = ""


class Journal:
    """Append-only record of resources the lab may own."""

    def __init__(self, lab: str):
        self.lab = lab
        self.path = lab_dir(lab) / "resources.jsonl"

    def record(self, kind: str, name: str, detail: str = "") -> None:
        """Call BEFORE creating the resource."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"kind": kind, "name": name, "detail": detail}) + "\n"
        with open(self.path, "a") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())

    def resources(self, kind: str | None = None) -> list[Resource]:
        """Recorded resources, each once, in creation order. A torn last line
        (crash mid-write) is ignored: its resource was not created yet."""
        if not self.path.exists():
            return []
        seen: dict[tuple[str, str], Resource] = {}
        for line in self.path.read_text().splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            res = Resource(rec["kind"], rec["name"], rec.get("detail", ""))
            if kind is None or res.kind == kind:
                seen.setdefault((res.kind, res.name), res)
        return list(seen.values())
