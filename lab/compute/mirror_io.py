"""A mirrored disk's legs seen from the host: their content, compared.

A leg's content hash treats holes and written zeros alike (the quorum may
write zeros where another leg has a hole): the leg file is read region by
region (1 MiB), skipping holes (SEEK_DATA) and all-zero regions, and each
remaining region's offset and digest go into the hash. Hashing a 1 GiB leg
that holds little data takes milliseconds instead of seconds.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from lab.plan.model import DiskPlan

REGION = 1 << 20
_ZERO = bytes(REGION)


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


def flip_bytes(path: Path, offset: int, length: int) -> None:
    """Invert `length` bytes of a leg file in place (silent corruption of one copy)."""
    with open(path, "r+b", buffering=0) as f:
        data = os.pread(f.fileno(), length, offset)
        os.pwrite(f.fileno(), bytes(b ^ 0xFF for b in data), offset)
        os.fsync(f.fileno())


def legs_identical(lab_dir: Path, disk: DiskPlan) -> bool:
    return len({leg_content(Path(lab_dir) / leg.path).digest for leg in disk.legs}) == 1
