"""Per-host results of one playbook run, built from ansible-runner events.

A failed or unreachable host is a result like any other (Nornir's habit): the
run goes on for the others and the report says what happened where.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

HostStatus = Literal["ok", "changed", "failed", "unreachable"]


@dataclass
class TaskFailure:
    task: str
    message: str


@dataclass
class HostResult:
    name: str
    ok: int = 0
    changed: int = 0
    failed: int = 0
    skipped: int = 0
    unreachable: int = 0
    current_task: str = ""
    changed_tasks: list[str] = field(default_factory=list)
    failures: list[TaskFailure] = field(default_factory=list)

    @property
    def status(self) -> HostStatus:
        if self.unreachable:
            return "unreachable"
        if self.failed:
            return "failed"
        return "changed" if self.changed else "ok"

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "status": self.status}


@dataclass
class RunResult:
    playbook: str
    rc: int
    runner_status: str
    artifact_dir: str
    hosts: dict[str, HostResult] = field(default_factory=dict)

    @property
    def failed_hosts(self) -> list[str]:
        return sorted(h for h, r in self.hosts.items() if r.status in ("failed", "unreachable"))

    @property
    def succeeded(self) -> bool:
        return self.rc == 0 and not self.failed_hosts

    @property
    def changed_total(self) -> int:
        return sum(r.changed for r in self.hosts.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "playbook": self.playbook, "rc": self.rc, "status": self.runner_status,
            "artifact_dir": self.artifact_dir, "succeeded": self.succeeded,
            "hosts": {h: r.to_json() for h, r in sorted(self.hosts.items())},
        }


class EventCollector:
    """Folds runner events into HostResults; calls `on_change` after each one."""

    def __init__(self, on_change=None) -> None:
        self.hosts: dict[str, HostResult] = {}
        self._on_change = on_change

    def host(self, name: str) -> HostResult:
        return self.hosts.setdefault(name, HostResult(name))

    def __call__(self, event: dict[str, Any]) -> bool:
        data = event.get("event_data") or {}
        name = data.get("host")
        kind = event.get("event", "")
        if name and kind == "runner_on_start":
            self.host(name).current_task = data.get("task", "")
        elif name and kind.startswith("runner_on_"):
            self._count(kind, name, data)
        if name and self._on_change:
            self._on_change(self)
        return True

    def _count(self, kind: str, name: str, data: dict[str, Any]) -> None:
        result = self.host(name)
        res = data.get("res") or {}
        if kind == "runner_on_ok":
            result.ok += 1
            if res.get("changed"):
                result.changed += 1
                result.changed_tasks.append(data.get("task", ""))
        elif kind == "runner_on_skipped":
            result.skipped += 1
        elif kind == "runner_on_failed" and not data.get("ignore_errors"):
            result.failed += 1
            result.failures.append(TaskFailure(data.get("task", ""), _message(res)))
        elif kind == "runner_on_unreachable":
            result.unreachable += 1
            result.failures.append(TaskFailure(data.get("task", ""), _message(res)))


def _message(res: dict[str, Any]) -> str:
    """The most useful line of a failed result: msg, else stderr, else a loop item's msg."""
    for item in res.get("results") or []:
        if isinstance(item, dict) and (item.get("failed") or item.get("unreachable")):
            return _message(item)
    parts = [res.get("msg"), res.get("stderr") or res.get("module_stderr")]
    return " ".join(" ".join(str(p) for p in parts if p).split())
