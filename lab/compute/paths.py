"""Where compute state lives inside a lab directory.

    <lab_dir>/compute/<vm>/os.qcow2          OS disk (overlay of the cached image)
    <lab_dir>/compute/<vm>/data-<disk>.qcow2 data disks
    <lab_dir>/compute/<vm>/serial.log        boot diagnostics (serial console)
    <lab_dir>/compute/<vm>/agent.sock        run-command channel (virtio-serial)
    <lab_dir>/compute/<vm>/provision.json    provisioning state
    <lab_dir>/compute/leases/<disk id>.json  disk leases
    <lab_dir>/compute/storage/<server>/      a server's storage daemon (qsd.pid, qsd.qmp)
        <vm>/<disk>.raw                      and the mirror legs it holds
    <lab_dir>/compute/mirror/<vm>/<disk>.*   a mirrored disk's quorum daemon (.sock, .pid, .qmp)

Everything compute creates on disk is under <lab_dir>/compute, so removing
that directory (after the domains) leaves no residue.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from lab.paths import lab_dir
from lab.plan.naming import data_disk_relpath

SOCKET_PATH_MAX = 107


def default_lab_dir(lab: str) -> Path:
    return lab_dir(lab)


def compute_dir(lab_dir: Path) -> Path:
    return Path(lab_dir) / "compute"


def vm_dir(lab_dir: Path, vm: str) -> Path:
    return compute_dir(lab_dir) / vm


def os_disk(lab_dir: Path, vm: str) -> Path:
    return vm_dir(lab_dir, vm) / "os.qcow2"


def data_disk(lab_dir: Path, vm: str, disk: str) -> Path:
    return Path(lab_dir) / data_disk_relpath(vm, disk)


def serial_log(lab_dir: Path, vm: str) -> Path:
    return vm_dir(lab_dir, vm) / "serial.log"


def unix_socket(path: Path, what: str) -> Path:
    if len(str(path)) > SOCKET_PATH_MAX:
        raise ValueError(f"{what} path too long for a unix socket ({len(str(path))} > "
                         f"{SOCKET_PATH_MAX}): {path}; use a shorter STACKLAB_HOME")
    return path


def agent_socket(lab_dir: Path, vm: str) -> Path:
    return unix_socket(vm_dir(lab_dir, vm) / "agent.sock", "agent socket")


def storage_dir(lab_dir: Path, server: str) -> Path:
    return compute_dir(lab_dir) / "storage" / server


def storage_pidfile(lab_dir: Path, server: str) -> Path:
    return storage_dir(lab_dir, server) / "qsd.pid"


def storage_qmp(lab_dir: Path, server: str) -> Path:
    return unix_socket(storage_dir(lab_dir, server) / "qsd.qmp", "storage daemon monitor")


def quorum_socket(lab_dir: Path, relpath: str) -> Path:
    return unix_socket(Path(lab_dir) / relpath, "quorum NBD socket")


def quorum_pidfile(lab_dir: Path, relpath: str) -> Path:
    return (Path(lab_dir) / relpath).with_suffix(".pid")


def quorum_qmp(lab_dir: Path, relpath: str) -> Path:
    return unix_socket((Path(lab_dir) / relpath).with_suffix(".qmp"), "quorum monitor")


def storage_pidfiles(lab_dir: Path) -> list[Path]:
    """Every storage daemon pid file of the lab: quorums first (they use the
    servers' legs), then the servers."""
    root = compute_dir(lab_dir)
    return sorted((root / "mirror").glob("*/*.pid")) + sorted((root / "storage").glob("*/qsd.pid"))


def provision_file(lab_dir: Path, vm: str) -> Path:
    return vm_dir(lab_dir, vm) / "provision.json"


def lease_file(lab_dir: Path, disk: Path) -> Path:
    digest = hashlib.blake2b(str(Path(disk).resolve()).encode(), digest_size=8).hexdigest()
    return compute_dir(lab_dir) / "leases" / f"{Path(disk).stem}-{digest}.json"
