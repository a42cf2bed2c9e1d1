"""Every field a topology sets changes the plan or is refused (issue 16's first promise).

For each example topology, each value the file writes is changed (a number
moved, a flag flipped, a name or literal altered, a list shortened) and the
result goes through the real loader and planner: either the loader refuses it
(TopologyError) or the plan differs from the original's. A field that can be
changed without either is accepted and ignored, which is what this test fails on.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.model.loader import TopologyError, parse_topology
from lab.plan.planner import build_plan

TOPOLOGIES = sorted((Path(__file__).resolve().parents[2] / "topologies").glob("*.yaml"))
Key = str | int


def _leaves(node: Any, path: tuple[Key, ...] = ()) -> Iterator[tuple[tuple[Key, ...], Any]]:
    """Every scalar the file writes, and every list of scalars; the first two
    items of a list of mappings (the rest repeat their shape)."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, (*path, key))
    elif isinstance(node, list):
        if not all(isinstance(x, (dict, list)) for x in node):
            yield path, node
        for i, value in enumerate(node[:2]):
            if isinstance(value, (dict, list)):
                yield from _leaves(value, (*path, i))
    else:
        yield path, node


def _changed(value: Any) -> list[Any]:
    """Other values for `value`, tried in turn until one loads."""
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, int):
        return [value + 1, value - 1, value + 2]
    if isinstance(value, float):
        return [value * 1.5, value / 2]
    if isinstance(value, str):
        return [value + "x"]
    if isinstance(value, list):
        return [value[:-1]] if len(value) > 1 else []
    return []


def _with(data: dict, path: tuple[Key, ...], value: Any) -> dict:
    out = copy.deepcopy(data)
    node: Any = out
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return out


def _plan(data: dict, drop: str | None = None) -> dict:
    plan = build_plan(parse_topology(yaml.safe_dump(data), "mutated")).model_dump(mode="json")
    if drop:  # the test of this test: a plan whose hosts lack one field
        plan["hosts"] = [{k: v for k, v in h.items() if k != drop} for h in plan["hosts"]]
    return plan


def _outcome(data: dict, path: tuple[Key, ...], value: Any, drop: str | None = None) -> str:
    base = _plan(data, drop)
    for other in _changed(value):
        try:
            plan = _plan(_with(data, path, other), drop)
        except TopologyError:
            continue  # refused: try the next change, one may load
        return "honoured" if plan != base else f"ignored (set to {other!r})"
    return "refused"


@pytest.mark.parametrize("path", TOPOLOGIES, ids=lambda p: p.stem)
def test_every_field_the_file_sets_changes_the_plan_or_is_refused(path):
    data = yaml.safe_load(path.read_text())
    outcomes = {".".join(map(str, where)): _outcome(data, where, value) for where, value in _leaves(data)}
    ignored = {k: v for k, v in outcomes.items() if v.startswith("ignored")}
    assert not ignored, f"{path.name}: accepted but not in the plan: {ignored}"
    assert "honoured" in outcomes.values()  # the mutations do reach the plan


def test_a_field_the_plan_does_not_carry_is_reported():
    """The test can fail: in a plan without the servers' storage cluster,
    `servers[].cluster` of a lab with no mirrored disk is accepted and ignored."""
    data = yaml.safe_load((TOPOLOGIES[0].parent / "embedded.yaml").read_text())
    index = next(i for i, s in enumerate(data["servers"]) if s.get("role", "compute") == "compute")
    data["servers"][index]["cluster"] = "s2d"
    where = ("servers", index, "cluster")
    assert _outcome(data, where, "s2d") == "honoured"
    assert _outcome(data, where, "s2d", drop="cluster").startswith("ignored")
