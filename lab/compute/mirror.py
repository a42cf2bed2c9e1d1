"""Mirrored data disks (resiliency: mirror3): diff against the plan, then apply.

The seed's Storage Spaces Direct keeps three copies of a volume on three
servers. This kernel has no md, dm, nbd or DRBD, so the copies and the vote
come from QEMU's block layer, run by qemu-storage-daemon (lab.compute.
storage_daemon):

- every compute server that holds legs runs one storage daemon in its
  namespace: an NBD server on the server's underlay address and one export
  per leg (a sparse raw file). Exports are added and removed over QMP, so a
  new mirrored disk never restarts a daemon under the mirrors it serves;
- every mirrored disk gets a quorum daemon in its VM's server namespace: three
  NBD clients (the legs, over the underlay; reconnect-delay set, else a leg
  whose server comes back is never used again), a `quorum` node over them
  (vote-threshold 2: a read or write succeeds when two legs agree, so one
  server loss is survived; rewrite-corrupted: an out-voted leg is rewritten),
  exported to the VM over an NBD unix socket.

Why the quorum lives in its own daemon and not in the VM's QEMU: libvirt's
domain XML cannot express a quorum over NBD children. QEMU command-line
passthrough could, but libvirt would then not know the disk (no <iotune>
cap, no live cap changes, a tainted domain); and QEMU runs in the host's
namespace, from which lab traffic must never leave, while the legs are
reached over the underlay. A daemon in the server's namespace keeps the leg
traffic there; the unix socket is a filesystem path, reachable from QEMU in
any namespace, and libvirt expresses it as a network disk (<source
protocol='nbd'><host transport='unix'/>) that keeps its <iotune> cap
(measured: the 500-IOPS cap holds on a mirrored disk). vhost-user-blk would
need shared guest memory for every VM; NBD needs nothing of the VM.

Measured limits of QEMU 7.2 / libvirt 9.0 here: libvirt cannot give the
VM's NBD disk a reconnect delay, so the VM's NBD client, once its
connection is gone, fails the I/O that finds it gone and reconnects on a
later one. The connection goes when the quorum daemon dies (`lab up`
restarts it: the guest then sees two failed I/Os, measured, and the disk
answers again) and when a read the daemon serves fails (its NBD server
closes a connection whose structured read fails: after the whole mirror
failed, the guest sees one more I/O error once it is back; the server-loss
check counts it). A read the vote answers, and any failed write, keep the
connection.

A quorum does not open while a leg is unreachable, so server daemons and
their exports come before the quorums, and quorums before the VMs. A storage
daemon that returns after a loss holds stale legs: once every server is
back, each mirror it serves is scrubbed until its legs agree (the resync,
lab.compute.mirror_io).
Everything is journaled before it is created and lives under
<lab>/compute/ (lab.compute.paths); `remove_storage` stops every daemon
found by pid file, after the VMs and before the directory goes.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lab.compute import mirror_scrub, paths, qmp, storage_daemon
from lab.compute.storage_daemon import QSD, monitor_args
from lab.plan.model import DiskPlan, EndpointPlan, MirrorLegPlan, Plan

Record = Callable[[str, str, str], None]
RECONNECT_DELAY_S = 2  # a lost leg stalls I/O this long once, then fails fast until it returns
QUORUM_NODE = "quorum"
GIB = 1 << 30


def mirrored(plan: Plan) -> list[tuple[EndpointPlan, DiskPlan]]:
    return [(vm, d) for vm in plan.vms()
            for d in vm.data_disks if d.resiliency == "mirror3"]


@dataclass(frozen=True)
class StorageServer:
    """A server's storage daemon as the plan wants it: where it listens, what it exports."""

    name: str
    namespace: str
    address: str
    port: int
    legs: tuple[tuple[MirrorLegPlan, int], ...]  # (leg, size in GiB)


def storage_servers(plan: Plan) -> dict[str, StorageServer]:
    grouped: dict[str, list[tuple[MirrorLegPlan, int]]] = {}
    for _, disk in mirrored(plan):
        for leg in disk.legs:
            grouped.setdefault(leg.server, []).append((leg, disk.size_gb))
    return {name: StorageServer(name, legs[0][0].namespace, legs[0][0].address, legs[0][0].port,
                                tuple(legs)) for name, legs in grouped.items()}


def server_argv(lab_dir: Path, server: StorageServer) -> list[str]:
    return [QSD, "--nbd-server", f"addr.type=inet,addr.host={server.address},addr.port={server.port}",
            *monitor_args(paths.storage_qmp(lab_dir, server.name)),
            "--pidfile", str(paths.storage_pidfile(lab_dir, server.name)), "--daemonize"]


def _blockdev(spec: dict) -> list[str]:
    return ["--blockdev", json.dumps(spec, separators=(",", ":"))]


def quorum_argv(lab_dir: Path, disk: DiskPlan) -> list[str]:
    argv = [QSD]
    for leg in disk.legs:
        argv += _blockdev({"driver": "nbd", "node-name": leg.node, "export": leg.export,
                           "server": {"type": "inet", "host": leg.address, "port": str(leg.port)},
                           "reconnect-delay": RECONNECT_DELAY_S})
    argv += _blockdev({"driver": "quorum", "node-name": QUORUM_NODE, "vote-threshold": disk.vote_threshold,
                       "rewrite-corrupted": True, "read-pattern": "quorum",
                       "children": [leg.node for leg in disk.legs]})
    argv += ["--nbd-server", f"addr.type=unix,addr.path={paths.quorum_socket(lab_dir, disk.quorum_socket)}",
             "--export", f"type=nbd,id=disk,node-name={QUORUM_NODE},name={disk.name},writable=on",
             *monitor_args(paths.quorum_qmp(lab_dir, disk.quorum_socket)),
             "--pidfile", str(paths.quorum_pidfile(lab_dir, disk.quorum_socket)), "--daemonize"]
    return argv


# ---- actions ------------------------------------------------------------------
def create_leg(lab_dir: Path, leg: MirrorLegPlan, size_gb: int, record: Record) -> None:
    path = Path(lab_dir) / leg.path
    record("disk", str(path), f"mirror leg {leg.export} on {leg.server}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "wb") as f:
        f.truncate(size_gb * GIB)  # sparse: costs nothing until written
    os.replace(tmp, path)


def add_export(lab_dir: Path, server: str, leg: MirrorLegPlan) -> None:
    with qmp.Qmp(paths.storage_qmp(lab_dir, server)) as mon:
        nodes = {n["node-name"] for n in mon.execute("query-named-block-nodes", flat=True)}
        if leg.node not in nodes:
            mon.execute("blockdev-add", driver="file", filename=str(Path(lab_dir) / leg.path),
                        **{"node-name": leg.node})
        mon.execute("block-export-add", type="nbd", id=leg.node, name=leg.export, writable=True,
                    **{"node-name": leg.node})


def remove_export(lab_dir: Path, server: str, node: str) -> None:
    with qmp.Qmp(paths.storage_qmp(lab_dir, server)) as mon:
        mon.execute("block-export-del", id=node, mode="hard")
        for _ in range(200):  # the export goes once its clients are cut off
            if node not in {e["id"] for e in mon.execute("query-block-exports")}:
                break
            time.sleep(0.05)
        mon.execute("blockdev-del", **{"node-name": node})


def exports(lab_dir: Path, server: str) -> set[str]:
    return {e["id"] for e in qmp.execute(paths.storage_qmp(lab_dir, server), "query-block-exports")}


def start_server(plan: Plan, lab_dir: Path, name: str, record: Record) -> None:
    """Start a server's storage daemon with every planned export. Its legs
    may be stale: the caller resyncs the mirrors it serves (`resync_server`)."""
    server = storage_servers(plan)[name]
    pidfile = paths.storage_pidfile(lab_dir, name)
    record("process", str(pidfile), f"{QSD} of {name}: NBD {server.address}:{server.port}")
    storage_daemon.start(server.namespace, server_argv(lab_dir, server), pidfile, f"storage daemon of {name}")
    for leg, _ in server.legs:
        add_export(lab_dir, name, leg)


def stop_server(lab_dir: Path, name: str) -> bool:
    """A server's storage daemon dies at once (SIGKILL), as a server that loses
    power: every leg it serves is gone; whether it was running."""
    return storage_daemon.stop(paths.storage_pidfile(lab_dir, name), crash=True)


def resync_server(plan: Plan, lab_dir: Path, name: str, skip: tuple[str, ...] = ()) -> list[str]:
    """Scrub every running mirror with a leg on `name` (its legs there are
    stale), but those whose quorum socket is in `skip`."""
    done = []
    for vm, disk in mirrored(plan):
        if disk.quorum_socket in skip:
            continue
        if any(leg.server == name for leg in disk.legs) and quorum_running(lab_dir, disk):
            done.append(f"{vm.name}/{disk.name} resynced in {mirror_scrub.resync(lab_dir, disk).seconds:.1f} s")
    return done


def quorum_running(lab_dir: Path, disk: DiskPlan) -> bool:
    return storage_daemon.running_pid(paths.quorum_pidfile(lab_dir, disk.quorum_socket)) is not None


def start_quorum(lab_dir: Path, vm: EndpointPlan, disk: DiskPlan, record: Record) -> None:
    pidfile = paths.quorum_pidfile(lab_dir, disk.quorum_socket)
    record("process", str(pidfile), f"{QSD} quorum of {vm.name}/{disk.name}")
    storage_daemon.start(vm.server_namespace, quorum_argv(lab_dir, disk), pidfile,
                         f"quorum of {vm.name}/{disk.name}")

