"""Mirrored disks seen from the host: scrub through the quorum, hash the legs.

A scrub reads every byte of the disk through its quorum's NBD socket. Every
read is voted (read-pattern quorum) and, with rewrite-corrupted on, a leg
whose data differs from the majority is rewritten with it: this is how a
leg that was corrupted, or stale after its server came back, is repaired.
A resync (`resync`) scrubs until the legs are identical; its duration over
the disk's size is the resync speed the checks report.

A leg's content hash treats holes and written zeros alike (the quorum may
write zeros where another leg has a hole): the leg file is read region by
region (1 MiB), skipping holes (SEEK_DATA) and all-zero regions, and each
remaining region's offset and digest go into the hash. Hashing a 1 GiB leg
that holds little data takes milliseconds instead of seconds.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from lab.compute import paths
from lab.plan.model import DiskPlan

REGION = 1 << 20
GIB = 1 << 30
SCRUB_TIMEOUT_S = 600.0
RESYNC_ATTEMPTS = 5
RESYNC_PAUSE_S = 0.5
_ZERO = bytes(REGION)


class ScrubError(RuntimeError):
    """The scrub could not read the disk through its quorum."""


@dataclass(frozen=True)
class LegContent:
    """A leg's content: region offset -> digest of every non-zero region."""

    regions: dict[int, str]

    @property
    def digest(self) -> str:
        h = hashlib.blake2b(digest_size=16)
        for offset in sorted(self.regions):
            h.update(f"{offset}:{self.regions[offset]};".encode())
        return h.hexdigest()

    def differing(self, other: LegContent) -> list[int]:
        """Region offsets whose content differs (in either leg)."""
        keys = self.regions.keys() | other.regions.keys()
        return sorted(k for k in keys if self.regions.get(k) != other.regions.get(k))


def _data_extents(fd: int, size: int):
    offset = 0
    while offset < size:
        try:
            start = os.lseek(fd, offset, os.SEEK_DATA)
        except OSError:  # ENXIO: no data after offset
            return
        end = os.lseek(fd, start, os.SEEK_HOLE)
        yield start, end
        offset = end


def leg_content(path: Path) -> LegContent:
    regions: dict[int, str] = {}
    with open(path, "rb", buffering=0) as f:
        size = os.fstat(f.fileno()).st_size
        for start, end in _data_extents(f.fileno(), size):
            region = start - start % REGION
            while region < end:
                chunk = os.pread(f.fileno(), REGION, region)
                if chunk and chunk != _ZERO[:len(chunk)]:
                    regions[region] = hashlib.blake2b(chunk, digest_size=16).hexdigest()
                region += REGION
    return LegContent(regions)


def region_digest(path: Path, offset: int, length: int) -> str:
    """sha256 of `length` bytes at `offset` of a leg (what the guest hashes with sha256sum)."""
    with open(path, "rb", buffering=0) as f:
        return hashlib.sha256(os.pread(f.fileno(), length, offset)).hexdigest()


def nbd_uri(lab_dir: Path, disk: DiskPlan) -> str:
    return f"nbd+unix:///{disk.name}?socket={paths.quorum_socket(lab_dir, disk.quorum_socket)}"


def scrub(lab_dir: Path, disk: DiskPlan, timeout_s: float = SCRUB_TIMEOUT_S) -> float:
    """Read the whole disk through its quorum (qemu-img into a null target);
    the seconds it took. Each read is voted and an out-voted leg rewritten."""
    size = disk.size_gb * GIB
    argv = ["qemu-img", "convert", "-n", "-f", "raw", nbd_uri(lab_dir, disk),
            "--target-image-opts", f"driver=null-co,size={size}"]
    started = time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s, check=False)
    if done.returncode != 0:
        raise ScrubError(f"scrub of {disk.name} through {nbd_uri(lab_dir, disk)} failed "
                         f"({done.returncode}): {done.stderr.strip()[-400:]}")
    return time.monotonic() - started


def flip_bytes(path: Path, offset: int, length: int) -> None:
    """Invert `length` bytes of a leg file in place (silent corruption of one copy)."""
    with open(path, "r+b", buffering=0) as f:
        data = os.pread(f.fileno(), length, offset)
        os.pwrite(f.fileno(), bytes(b ^ 0xFF for b in data), offset)
        os.fsync(f.fileno())


def legs_identical(lab_dir: Path, disk: DiskPlan) -> bool:
    return len({leg_content(Path(lab_dir) / leg.path).digest for leg in disk.legs}) == 1


def resync(lab_dir: Path, disk: DiskPlan, attempts: int = RESYNC_ATTEMPTS) -> float:
    """Scrub until the three legs are identical; the seconds from the start to
    that point. A leg whose server came back reconnects in the background
    once an I/O finds it gone (QEMU's NBD client), so the first scrub may pass
    it by (or, with two legs returning, fail for want of a vote): the legs are
    compared after each scrub and the scrub repeated."""
    started, failed = time.monotonic(), ""
    for attempt in range(attempts):
        try:
            scrub(lab_dir, disk)
            if legs_identical(lab_dir, disk):
                return time.monotonic() - started
        except ScrubError as exc:  # too few legs connected yet to vote: they are reconnecting
            failed = f"; the last scrub: {exc}"
        time.sleep(RESYNC_PAUSE_S * (attempt + 1))
    raise ScrubError(f"the legs of {disk.name} still differ after {attempts} scrubs through the quorum "
                     f"(a leg that cannot reconnect, or no two legs agree){failed}")
