"""The DSR check's spread is only measured while every backend stays in the pool."""

from __future__ import annotations

from lab.verify.lb.common import pool_changes as _pool_changes


def test_a_stable_healthy_pool_has_no_changes():
    pool = {"a": (True, 3), "b": (True, 0)}
    assert _pool_changes(pool, dict(pool)) == []


def test_a_backend_that_flapped_during_the_run_is_named_even_if_back():
    assert _pool_changes({"a": (True, 1), "b": (True, 0)}, {"a": (True, 3), "b": (True, 0)}) == ["a"]


def test_a_backend_out_of_the_pool_at_the_start_or_the_end_is_named():
    assert _pool_changes({"a": (False, 1), "b": (True, 0)}, {"a": (False, 1), "b": (True, 0)}) == ["a"]
    assert _pool_changes({"a": (True, 1), "b": (True, 0)}, {"a": (True, 1), "b": (False, 1)}) == ["b"]
