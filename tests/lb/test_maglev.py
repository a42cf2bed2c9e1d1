"""Maglev properties the control plane relies on (pure, no root)."""

from __future__ import annotations

import pytest

from lab.lb import maglev


def backends(n: int) -> dict[str, int]:
    return {f"dip-{i}": i + 1 for i in range(n)}


@pytest.mark.parametrize("n", [3, 10, 50, 100])
def test_imbalance_at_most_one_percent_when_ring_is_100x_backends(n):
    size = next(p for p in range(100 * n, 200 * n) if maglev.is_prime(p))
    ring = maglev.build_ring(backends(n), size)
    assert set(maglev.shares(ring)) == set(range(1, n + 1))
    assert maglev.imbalance(ring) <= 0.01


@pytest.mark.parametrize("n", [2, 3, 5, 10, 50, 100])
def test_removing_one_backend_remaps_at_most_its_share_plus_one_percent(n):
    before = maglev.build_ring(backends(n), 65537)
    for victim in ("dip-0", f"dip-{n // 2}"):
        pool = backends(n)
        del pool[victim]
        after = maglev.build_ring(pool, 65537)
        assert maglev.moved_fraction(before, after) <= 1 / n + 0.01


def test_ring_depends_on_names_not_on_order():
    a = maglev.build_ring({"x": 1, "y": 2, "z": 3}, 251)
    b = maglev.build_ring({"z": 3, "y": 2, "x": 1}, 251)
    assert a == b


def test_every_slot_filled_and_empty_pool_gives_empty_ring():
    ring = maglev.build_ring(backends(7), 1009)
    assert maglev.EMPTY not in ring
    assert maglev.build_ring({}, 1009) == [maglev.EMPTY] * 1009


@pytest.mark.parametrize("bad", [[{"a": 1}, 100], [{"a": 0}, 101], [{f"{i}": i + 1 for i in range(8)}, 7]])
def test_invalid_rings_are_refused(bad):
    with pytest.raises(ValueError):
        maglev.build_ring(*bad)
