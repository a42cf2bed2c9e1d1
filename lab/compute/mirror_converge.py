"""Diff the lab's mirrored-disk daemons against the plan, in the order they
must be applied (lab.compute.mirror says why): quorums the plan dropped,
then per server the leg files, the storage daemon and its exports, then the
quorums, then the resync of every mirror whose server came back. `lab up
--dry-run` lists exactly these; reading state (pid files, QMP queries)
changes nothing. `remove_storage` is `lab down`'s part."""

from __future__ import annotations

import shutil
from pathlib import Path

from lab.apply.changes import Change
from lab.apply.journal import Journal
from lab.compute import mirror, mirror_scrub, paths, storage_daemon
from lab.compute.mirror import Record, StorageServer
from lab.plan.model import DiskPlan, EndpointPlan, Plan


def diff_storage(plan: Plan, lab_dir: Path, record: Record) -> list[Change]:
    lab_dir = Path(lab_dir)
    servers = mirror.storage_servers(plan)
    changes = _unplanned_quorums(plan, lab_dir) + _unplanned_servers(lab_dir, set(servers))
    for server in servers.values():
        changes += _server(plan, lab_dir, server, record)
    started = {c.host for c in changes if c.kind == "qsd" and c.action != "delete"}
    for vm, disk in mirror.mirrored(plan):
        pidfile = paths.quorum_pidfile(lab_dir, disk.quorum_socket)
        have, want = storage_daemon.running_argv(pidfile), mirror.quorum_argv(lab_dir, disk)
        if have == want:
            continue

        def start(v=vm, d=disk, p=pidfile, restart=have is not None) -> None:
            if restart:
                storage_daemon.stop(p)
            mirror.start_quorum(lab_dir, v, d, record)

        legs = ", ".join(leg.server for leg in disk.legs)
        changes.append(Change(vm.server, "update" if have else "create", "quorum",
                              f"{vm.name}/{disk.name} over legs on {legs} (vote {disk.vote_threshold} of "
                              f"{len(disk.legs)})", start))
    return changes + _resyncs(plan, lab_dir, started)


def _resyncs(plan: Plan, lab_dir: Path, started: set[str]) -> list[Change]:
    """A mirror with a leg on a server (re)started here may hold a stale copy
    there: once every server and quorum runs, scrub it until its legs agree."""
    changes = []
    for vm, disk in mirror.mirrored(plan):
        returned = sorted({leg.server for leg in disk.legs} & started)
        if returned and any((lab_dir / leg.path).exists() for leg in disk.legs):  # a new disk's empty legs agree
            changes.append(_resync_change(lab_dir, vm, disk, returned))
    return changes


def _resync_change(lab_dir: Path, vm: EndpointPlan, disk: DiskPlan, returned: list[str]) -> Change:
    def resync() -> None:
        done = mirror_scrub.resync(lab_dir, disk)
        change.outcome = f"({done.seconds:.1f} s, {done.scrubs} scrub(s))"

    change = Change(vm.server, "update", "resync", f"{vm.name}/{disk.name} (legs on {', '.join(returned)} returned)",
                    resync)
    return change


def _unplanned_quorums(plan: Plan, lab_dir: Path) -> list[Change]:
    wanted = {paths.quorum_pidfile(lab_dir, d.quorum_socket) for _, d in mirror.mirrored(plan)}
    root = paths.compute_dir(lab_dir) / "mirror"
    return [Change("host", "delete", "quorum", f"{p.parent.name}/{p.stem}", lambda p=p: _forget_quorum(p))
            for p in sorted(root.glob("*/*.pid")) if p not in wanted]


def _forget_quorum(pidfile: Path) -> None:
    storage_daemon.stop(pidfile)
    for suffix in (".sock", ".qmp"):
        pidfile.with_suffix(suffix).unlink(missing_ok=True)


def _unplanned_servers(lab_dir: Path, wanted: set[str]) -> list[Change]:
    root = paths.compute_dir(lab_dir) / "storage"
    gone = sorted(d.name for d in root.iterdir() if d.is_dir() and d.name not in wanted) if root.exists() else []

    def remove(name: str) -> None:
        storage_daemon.stop(paths.storage_pidfile(lab_dir, name))
        shutil.rmtree(paths.storage_dir(lab_dir, name), ignore_errors=True)

    return [Change(name, "delete", "qsd", f"storage daemon and legs of {name}", lambda n=name: remove(n))
            for name in gone]


def _server(plan: Plan, lab_dir: Path, server: StorageServer, record: Record) -> list[Change]:
    changes = []
    for leg, size_gb in server.legs:
        if not (lab_dir / leg.path).exists():
            changes.append(Change(server.name, "create", "leg", f"{leg.export} {size_gb} GB ({leg.path})",
                                  lambda lg=leg, gb=size_gb: mirror.create_leg(lab_dir, lg, gb, record)))
    pidfile = paths.storage_pidfile(lab_dir, server.name)
    have = storage_daemon.running_argv(pidfile)
    if have != mirror.server_argv(lab_dir, server):
        def start() -> None:
            if have is not None:
                storage_daemon.stop(pidfile)
            mirror.start_server(plan, lab_dir, server.name, record)

        change = Change(server.name, "update" if have else "create", "qsd",
                        f"storage daemon NBD {server.address}:{server.port}, {len(server.legs)} leg(s)", start)
        return [*changes, change, *_stale_legs(lab_dir, server)]
    exported = mirror.exports(lab_dir, server.name)
    planned = {leg.node for leg, _ in server.legs}
    changes += [Change(server.name, "create", "export", f"{leg.export} (NBD {server.address}:{server.port})",
                       lambda lg=leg: mirror.add_export(lab_dir, server.name, lg))
                for leg, _ in server.legs if leg.node not in exported]
    changes += [Change(server.name, "delete", "export", node,
                       lambda n=node: mirror.remove_export(lab_dir, server.name, n))
                for node in sorted(exported - planned)]
    return changes + _stale_legs(lab_dir, server)


def _stale_legs(lab_dir: Path, server: StorageServer) -> list[Change]:
    """Leg files of disks the plan no longer mirrors here (their export goes first)."""
    planned = {lab_dir / leg.path for leg, _ in server.legs}
    root = paths.storage_dir(lab_dir, server.name)
    stale = sorted(p for p in root.glob("*/*.raw") if p not in planned) if root.exists() else []
    return [Change(server.name, "delete", "leg", str(p.relative_to(lab_dir)), lambda p=p: p.unlink(missing_ok=True))
            for p in stale]


def remove_storage(lab: str, lab_dir: Path) -> list[str]:
    """Stop every storage daemon of the lab (quorums first): those found by pid
    file under the lab directory and those the journal recorded."""
    found = paths.storage_pidfiles(Path(lab_dir))
    found += [Path(r.name) for r in Journal(lab).resources("process")
              if r.name.endswith(".pid") and Path(r.name) not in found
              and Path(r.name).is_relative_to(paths.compute_dir(lab_dir))]
    return [f"{storage_daemon.QSD} {p.relative_to(lab_dir)}" for p in found if storage_daemon.stop(p)]
