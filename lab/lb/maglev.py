"""Maglev consistent hashing (Eisenbud et al., NSDI 2016). Pure: no I/O.

Each backend walks its own permutation of the ring (offset and skip derived
from its name, so the ring does not depend on list order or process); in
round-robin order every backend claims its next free preferred slot. Every
backend gets M/N slots +- 1, and removing a backend moves little more than
its own slots. The datapath only reads the ring this builds.
"""

from __future__ import annotations

import hashlib

import numpy as np

EMPTY = 0  # backend id 0 is reserved: an empty slot drops the packet


def is_prime(n: int) -> bool:
    if n < 2:
        return False
    if n % 2 == 0:
        return n == 2
    f = 3
    while f * f <= n:
        if n % f == 0:
            return False
        f += 2
    return True


def _offset_skip(name: str, size: int) -> tuple[int, int]:
    digest = hashlib.blake2b(name.encode(), digest_size=16).digest()
    h1 = int.from_bytes(digest[:8], "little")
    h2 = int.from_bytes(digest[8:], "little")
    return h1 % size, h2 % (size - 1) + 1


def build_ring(backends: dict[str, int], size: int = 65537) -> list[int]:
    """Ring of `size` slots holding backend ids; `backends` maps a stable name
    to its datapath id (> 0). No backends: every slot EMPTY."""
    if not is_prime(size):
        raise ValueError(f"Maglev ring size must be prime, got {size}")
    if any(i <= EMPTY for i in backends.values()):
        raise ValueError("backend ids must be > 0 (0 marks an empty slot)")
    if len(backends) > size:
        raise ValueError(f"{len(backends)} backends do not fit a ring of {size}")
    ring = [EMPTY] * size
    if not backends:
        return ring
    names = sorted(backends)
    ids = [backends[n] for n in names]
    # preference j of backend i is (offset + j * skip) % size: keep each
    # backend's current slot and step it by skip instead of storing N*M lists
    pairs = [_offset_skip(n, size) for n in names]
    cur = [p[0] for p in pairs]
    skips = [p[1] for p in pairs]
    filled = 0
    while True:
        for i in range(len(names)):
            slot, skip = cur[i], skips[i]
            while ring[slot] != EMPTY:
                slot += skip
                if slot >= size:
                    slot -= size
            ring[slot] = ids[i]
            slot += skip
            cur[i] = slot - size if slot >= size else slot
            filled += 1
            if filled == size:
                return ring


def shares(ring: list[int]) -> dict[int, int]:
    """Slots per backend id."""
    ids, counts = np.unique(np.asarray(ring), return_counts=True)
    return {int(i): int(c) for i, c in zip(ids, counts, strict=True) if i != EMPTY}


def imbalance(ring: list[int]) -> float:
    """(max - min) / mean of slots per backend: 0 is perfect."""
    counts = list(shares(ring).values())
    return (max(counts) - min(counts)) / (sum(counts) / len(counts)) if counts else 0.0


def moved_fraction(before: list[int], after: list[int]) -> float:
    """Fraction of ring slots whose backend changed."""
    a, b = np.asarray(before), np.asarray(after)
    return float(np.count_nonzero(a != b)) / len(a)
