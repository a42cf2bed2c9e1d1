"""Persisted control-plane state of one MUX datapath: which ids and ring
ranges are allocated and which backends are healthy. The maps hold the
datapath view; this file lets a later process (`lab lb status`, the probe
daemon, `lab lb add-backend`) continue where the last one stopped.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lab.paths import lab_dir
from lab.plan.lb_model import MuxSpec


def lb_dir(lab: str) -> Path:
    return lab_dir(lab) / "lb"


@dataclass
class RuleState:
    lb: str
    vip: str
    port: int
    protocol: str
    vip_id: int
    ring_off: int
    ring_size: int


@dataclass
class BackendState:
    lb: str
    name: str
    id: int
    healthy: bool = True
    probe_failures: int = 0
    probe_successes: int = 0
    last_probe: str = ""
    flips: int = 0  # health changes so far: a check can tell the pool changed under it


@dataclass
class MuxState:
    spec: MuxSpec
    ring_slots: int
    rules: list[RuleState] = field(default_factory=list)
    backends: list[BackendState] = field(default_factory=list)
    next_vip_id: int = 1
    next_backend_id: int = 1  # never reused while loaded: stale flow entries cannot alias
    free_rings: list[list[int]] = field(default_factory=list)  # [offset, size]
    ring_top: int = 0
    affinity: bool = True
    # backends every ring of this MUX leaves out while the ring-diverge fault
    # is on: kept here, so probe rounds and operations keep the divergence
    ring_leave_out: dict[str, list[str]] = field(default_factory=dict)  # lb -> backend names

    def backend(self, lb: str, name: str) -> BackendState | None:
        return next((b for b in self.backends if b.lb == lb and b.name == name), None)

    def rules_of(self, lb: str) -> list[RuleState]:
        return [r for r in self.rules if r.lb == lb]

    def alloc_ring(self, size: int) -> int:
        for i, (off, sz) in enumerate(self.free_rings):
            if sz == size:
                del self.free_rings[i]
                return off
        if self.ring_top + size > self.ring_slots:
            raise ValueError(f"no room for another ring of {size} slots "
                             f"({self.ring_slots} built in); reload the LB to grow it")
        self.ring_top += size
        return self.ring_top - size

    def to_json(self) -> dict:
        data = asdict(self)
        data["spec"] = self.spec.model_dump()
        return data

    @classmethod
    def from_json(cls, data: dict) -> MuxState:
        data = dict(data)
        data["spec"] = MuxSpec.model_validate(data["spec"])
        data["rules"] = [RuleState(**r) for r in data["rules"]]
        data["backends"] = [BackendState(**b) for b in data["backends"]]
        return cls(**data)


def state_path(lab: str, mux: str) -> Path:
    return lb_dir(lab) / f"{mux}.json"


def muxes_of(lab: str) -> list[str]:
    d = lb_dir(lab)
    return sorted(p.stem for p in d.glob("*.json")) if d.exists() else []


def load_state(lab: str, mux: str) -> MuxState:
    return MuxState.from_json(json.loads(state_path(lab, mux).read_text()))


def save_state(state: MuxState) -> None:
    path = state_path(state.spec.lab, state.spec.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(state.to_json(), indent=1))
    os.replace(tmp, path)


@contextmanager
def locked(lab: str, mux: str) -> Iterator[None]:
    """Serialises read-modify-write between the CLI and the probe daemon."""
    d = lb_dir(lab)
    d.mkdir(parents=True, exist_ok=True)
    fd = os.open(d / f"{mux}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
