"""Random mutations of the default topology: each one validates or raises a
TopologyError with issues; never another exception."""

from __future__ import annotations

import copy
import os
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lab.model import Topology, TopologyError, parse_topology

from .helpers import default_text

DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
DEFAULT: dict[str, Any] = yaml.safe_load(default_text())
# LAB_FUZZ_EXAMPLES raises the count for a long bug hunt; the suite stays small.
EXAMPLES = int(os.environ.get("LAB_FUZZ_EXAMPLES", "200"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

ipv6 = st.ip_addresses(v=6).map(str) | st.ip_addresses(v=6).map(lambda a: f"{a}/64")
ipv4 = st.ip_addresses(v=4).map(str) | st.sampled_from(["100.64.1.0/24", "192.0.2.7", "198.18.0.300"])
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=True)
    | st.text(max_size=20)
    | ipv4
    | ipv6
    | st.sampled_from(["auto", "hv1", "red", "mux1", "Standard_A0", "all", "0", "", "~"])
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


def _paths(node: Any, path: tuple = ()) -> list[tuple]:
    out = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += _paths(value, (*path, i))
    return out


def _mutate(data: dict, path: tuple, op: str, value: Any) -> None:
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    key = path[-1]
    if op == "delete":
        del parent[key]
    elif op == "set":
        parent[key] = value
    elif op == "duplicate" and isinstance(parent, list):
        parent.insert(key, copy.deepcopy(parent[key]))
    elif op == "add-key" and isinstance(parent[key], dict):
        parent[key][str(value)[:12]] = value
    elif op == "stringify":
        parent[key] = str(parent[key])


def _assert_clean(text: str) -> None:
    try:
        topo = parse_topology(text, "fuzz.yaml")
    except TopologyError as exc:
        assert exc.issues
        for issue in exc.issues:
            assert isinstance(issue.path, str) and issue.message
            assert issue.line is None or issue.line >= 1
        return
    assert isinstance(topo, Topology)


@FUZZ
@given(st.data())
def test_random_mutations_validate_or_fail_cleanly(data):
    mutated = copy.deepcopy(DEFAULT)
    for _ in range(data.draw(st.integers(1, 3))):
        paths = [p for p in _paths(mutated) if p]
        if not paths:
            break
        path = data.draw(st.sampled_from(paths))
        op = data.draw(st.sampled_from(["delete", "set", "duplicate", "add-key", "stringify"]))
        _mutate(mutated, path, op, data.draw(values))
    _assert_clean(yaml.dump(mutated, Dumper=DUMPER, sort_keys=False))


@settings(max_examples=EXAMPLES // 2, deadline=None, database=None)
@given(st.data())
def test_random_text_edits_validate_or_fail_cleanly(data):
    lines = default_text().splitlines(keepends=True)
    i = data.draw(st.integers(0, len(lines) - 1))
    op = data.draw(st.sampled_from(["delete", "duplicate", "insert", "truncate"]))
    if op == "delete":
        del lines[i]
    elif op == "duplicate":
        lines.insert(i, lines[i])
    elif op == "insert":
        lines.insert(i, data.draw(st.text(max_size=30)) + "\n")
    else:
        lines[i] = lines[i][: data.draw(st.integers(0, len(lines[i])))] + "\n"
    _assert_clean("".join(lines))
