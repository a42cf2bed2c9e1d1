"""What runs of a mirrored disk, read from the daemons themselves: each leg's
storage daemon, its export and file, and the quorum with the legs it is
connected to (QMP). Checks compare it with the plan; `lab status` shows
the daemons the lab directory holds."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab.compute import paths, qmp, storage_daemon
from lab.plan.model import DiskPlan, MirrorLegPlan


@dataclass(frozen=True)
class LegState:
    leg: MirrorLegPlan
    daemon: bool  # the server's storage daemon runs
    exported: bool  # it exports this leg
    file: bool  # the leg file exists
    quorum_child: bool  # the quorum has an NBD child to this server's address and export

    def problems(self) -> list[str]:
        where = f"leg on {self.leg.server}"
        return ([f"{where}: storage daemon not running"] if not self.daemon else
                [f"{where}: not exported"] if not self.exported else []) + (
            [f"{where}: file {self.leg.path} missing"] if not self.file else []) + (
            [f"{where}: the quorum has no child to {self.leg.address}:{self.leg.port}"]
            if not self.quorum_child else [])


@dataclass(frozen=True)
class MirrorState:
    quorum: bool
    legs: list[LegState] = field(default_factory=list)

    def problems(self) -> list[str]:
        found = [] if self.quorum else ["quorum daemon not running"]
        return found + [p for leg in self.legs for p in leg.problems()]


def _exports(lab_dir: Path, server: str) -> set[str]:
    try:
        return {e["id"] for e in qmp.execute(paths.storage_qmp(lab_dir, server), "query-block-exports")}
    except qmp.QmpError:
        return set()


def _quorum_children(lab_dir: Path, disk: DiskPlan) -> dict[str, str]:
    """node name -> its filename (nbd://address:port/export) in the quorum daemon."""
    try:
        nodes = qmp.execute(paths.quorum_qmp(lab_dir, disk.quorum_socket), "query-named-block-nodes", flat=True)
    except qmp.QmpError:
        return {}
    return {n["node-name"]: n.get("file", "") for n in nodes}


def mirror_state(lab_dir: Path, disk: DiskPlan) -> MirrorState:
    lab_dir = Path(lab_dir)
    quorum = storage_daemon.running_pid(paths.quorum_pidfile(lab_dir, disk.quorum_socket)) is not None
    children = _quorum_children(lab_dir, disk) if quorum else {}
    legs = []
    for leg in disk.legs:
        daemon = storage_daemon.running_pid(paths.storage_pidfile(lab_dir, leg.server)) is not None
        legs.append(LegState(leg, daemon, daemon and leg.node in _exports(lab_dir, leg.server),
                             (lab_dir / leg.path).exists(),
                             f"{leg.address}:{leg.port}" in children.get(leg.node, "")))
    return MirrorState(quorum, legs)


def daemons_status(lab_dir: Path) -> list[dict[str, Any]]:
    """Every storage daemon the lab directory holds a pid file for (`lab status`)."""
    rows = []
    for pidfile in paths.storage_pidfiles(lab_dir):
        quorum = pidfile.parent.parent.name == "mirror"
        name = f"{pidfile.parent.name}/{pidfile.stem}" if quorum else pidfile.parent.name
        running = storage_daemon.running_pid(pidfile) is not None
        row: dict[str, Any] = {"daemon": name, "kind": "quorum" if quorum else "server", "running": running}
        if running and not quorum:
            row["exports"] = sorted(_exports(lab_dir, name))
        rows.append(row)
    return rows
