"""Disk files and their leases (the seed's infinite blob lease).

A disk attached to a VM is leased to it: a lease record names the disk file,
the VM and its libvirt domain. Deleting a disk, or attaching it to another VM,
while a *running* domain holds the lease is refused. A lease whose domain no
longer runs is stale and may be broken (the seed's "break lease"). A disk that
a running domain has attached with no lease record is inconsistent.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from lab.compute import paths

IsRunning = Callable[[str], bool]  # domain name -> is it running?


class LeaseError(RuntimeError):
    """The disk is leased to another running VM."""


def create_qcow2(path: Path, size_gb: int | None = None, backing: Path | None = None) -> None:
    """A sparse qcow2 (costs nothing until written); an overlay when `backing`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    cmd = ["qemu-img", "create", "-q", "-f", "qcow2"]
    if backing is not None:
        cmd += ["-F", "qcow2", "-b", str(backing)]
    cmd.append(str(tmp))
    if size_gb is not None:
        cmd.append(f"{size_gb}G")
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    os.replace(tmp, path)  # a crash leaves a .part, never a half disk under the real name


def read_lease(lab_dir: Path, disk: Path) -> dict | None:
    try:
        return json.loads(paths.lease_file(lab_dir, disk).read_text())
    except (OSError, ValueError):
        return None


def acquire_lease(lab_dir: Path, disk: Path, vm: str, domain: str, is_running: IsRunning) -> None:
    """Lease `disk` to `vm`; refused while another running domain holds it."""
    current = read_lease(lab_dir, disk)
    if current and current["domain"] != domain and is_running(current["domain"]):
        raise LeaseError(
            f"disk {disk} is leased to VM '{current['vm']}' (domain {current['domain']}, "
            f"running since lease at {current['acquired']}): detach it or stop that VM first"
        )
    lease = {"disk": str(Path(disk).resolve()), "vm": vm, "domain": domain,
             "acquired": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
             "broke_stale": current["domain"] if current and current["domain"] != domain else None}
    target = paths.lease_file(lab_dir, disk)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(json.dumps(lease, indent=2))
    os.replace(tmp, target)


def release_lease(lab_dir: Path, disk: Path) -> None:
    paths.lease_file(lab_dir, disk).unlink(missing_ok=True)


def release_leases_of(lab_dir: Path, vm: str) -> None:
    """Drop every lease `vm` holds (its domain is gone)."""
    leases = paths.compute_dir(lab_dir) / "leases"
    for f in leases.glob("*.json") if leases.exists() else []:
        try:
            holder = json.loads(f.read_text()).get("vm")
        except (OSError, ValueError):
            continue
        if holder == vm:
            f.unlink(missing_ok=True)


def delete_disk(lab_dir: Path, disk: Path, is_running: IsRunning) -> None:
    """Delete a disk file and its lease; refused while a running domain holds it."""
    lease = read_lease(lab_dir, disk)
    if lease and is_running(lease["domain"]):
        raise LeaseError(
            f"cannot delete {disk}: leased to running VM '{lease['vm']}' "
            f"(domain {lease['domain']}); stop the VM or detach the disk first"
        )
    Path(disk).unlink(missing_ok=True)
    release_lease(lab_dir, disk)


def lease_state(lab_dir: Path, disk: Path, domain: str, running: bool) -> str:
    """'held' (leased to this domain), 'inconsistent' (attached to a running
    domain without its lease), 'released' (domain not running)."""
    lease = read_lease(lab_dir, disk)
    if not running:
        return "released" if lease is None else "stale"
    if lease is None or lease["domain"] != domain:
        return "inconsistent"
    return "held"
