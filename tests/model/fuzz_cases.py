"""Hypothesis strategies for tests/model/test_fuzz_topology.py: a shipped
topology (renamed to lab `fuzz`), mutated in its data (types, ranges,
dangling and duplicate references) and then in its text (YAML oddities:
anchors and aliases, tags, tabs, duplicate keys, huge numbers, deep nesting,
several documents, control characters) and its bytes (BOM, UTF-16, Latin-1,
garbage). Each draw is one file's bytes; `note()` records what was done, so a
failure shows the recipe as well as the file."""

from __future__ import annotations

import copy
import math
import re
from pathlib import Path
from typing import Any

import yaml
from hypothesis import note
from hypothesis import strategies as st

TOPOLOGIES = Path(__file__).resolve().parents[2] / "topologies"
LAB = "fuzz"
# VMs, an LB with HA ports (embedded); two MUXes over BGP (mux-pool); disk tiers; the smallest lab
BASES = ("embedded.yaml", "mux-pool.yaml", "storage-tiers.yaml", "minimal.yaml")
DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _base(name: str) -> dict[str, Any]:
    data = yaml.safe_load((TOPOLOGIES / name).read_text())
    data["name"] = LAB
    return data


BASE_DATA = {name: _base(name) for name in BASES}

# ---- values ------------------------------------------------------------------
ipv4 = st.ip_addresses(v=4).map(str) | st.sampled_from(["100.64.1.0/24", "192.0.2.7", "198.18.0.300", "240.0.0.1"])
ipv6 = st.ip_addresses(v=6).map(str) | st.ip_addresses(v=6).map(lambda a: f"{a}/64")
NAMES = ["auto", "hv1", "hv9", "red", "blue", "nope", "mux1", "mux2", "web", "Standard_A0", "all", "HV1",
         "hv1 ", "", "~", "0", "fuzz", "a" * 40, "tor", "client"]
scalars = (st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=True)
           | st.text(max_size=20) | ipv4 | ipv6 | st.sampled_from(NAMES))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=6)
# the edges of every range the model has (VNI 24 bits, MTU, ports, sizes, counts)
EDGES = [0, -1, 1, 2, 67, 68, 1279, 1280, 9000, 9217, 65535, 65536, 2**24 - 1, 2**24, 2**31, 2**63,
         2**64 + 1, 10**30, -(10**30), 0.5, 1e308, math.inf, -math.inf, math.nan, True, False]
# fields that name another object of the topology
REFERENCE_KEYS = {"server", "tenant", "subnet", "backends", "muxes", "size"}


def paths_of(node: Any, path: tuple = (), above: frozenset[int] = frozenset()) -> list[tuple]:
    """Every path into `node`; a container that holds itself (an alias made
    recursive) is not entered again."""
    out = [path]
    if id(node) in above:
        return out
    above |= {id(node)}
    if isinstance(node, dict):
        for key, value in node.items():
            out += paths_of(value, (*path, key), above)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += paths_of(value, (*path, i), above)
    return out


def _get(data: Any, path: tuple) -> Any:
    for part in path:
        data = data[part]
    return data


# ---- data mutations ------------------------------------------------------------
def _mutate_data(draw: Any, data: dict) -> None:
    paths = [p for p in paths_of(data) if p]
    path = draw(st.sampled_from(paths))
    parent, key = _get(data, path[:-1]), path[-1]
    op = draw(st.sampled_from(["delete", "set", "duplicate", "add-key", "stringify", "range",
                               "reference", "duplicate-name", "alias", "recursive"]))
    note(f"data: {op} at {path}")
    if op == "delete":
        del parent[key]
    elif op == "set":
        parent[key] = draw(values)
    elif op == "duplicate" and isinstance(parent, list):
        parent.insert(key, copy.deepcopy(parent[key]))
    elif op == "add-key" and isinstance(parent[key], dict):
        parent[key][draw(st.text(max_size=12))] = draw(values)
    elif op == "stringify":
        parent[key] = str(parent[key])
    elif op == "range":
        numeric = [p for p in paths if isinstance(_get(data, p), int | float)] or [path]
        where = draw(st.sampled_from(numeric))
        _get(data, where[:-1])[where[-1]] = draw(st.sampled_from(EDGES))
    elif op == "reference":
        _dangle(draw, data, paths)
    elif op == "duplicate-name":
        _duplicate_name(draw, data, paths)
    elif op == "alias":  # the dumper writes a shared object as an anchor and aliases
        parent[key] = _get(data, draw(st.sampled_from(paths)))
    elif op == "recursive" and isinstance(parent[key], list | dict):
        node = parent[key]
        if isinstance(node, list):
            node.append(node)
        else:
            node["self"] = node


def _dangle(draw: Any, data: dict, paths: list[tuple]) -> None:
    refs = [p for p in paths if isinstance(p[-1], str) and p[-1] in REFERENCE_KEYS]
    refs += [p for p in paths if len(p) >= 2 and p[-2] in ("backends", "muxes") and isinstance(p[-1], int)]
    if not refs:
        return
    where = draw(st.sampled_from(refs))
    names = [v for p in paths if p and p[-1] == "name" and isinstance(v := _get(data, p), str)]
    dangling = st.sampled_from(["hv9", "nope", "HV1", "", "mux9", "red-web9"] + names)
    target = _get(data, where[:-1])
    target[where[-1]] = draw(dangling | st.lists(dangling, max_size=3))


def _duplicate_name(draw: Any, data: dict, paths: list[tuple]) -> None:
    """Give an item the name (or VNI, address, VIP) of a sibling."""
    keys = ("name", "vni", "address", "vip", "prefix", "port")
    lists = {p[:-2] for p in paths if len(p) >= 3 and p[-1] in keys and isinstance(p[-2], int)}
    lists = {p for p in lists if len(_get(data, p)) >= 2}
    if not lists:
        return
    where = draw(st.sampled_from(sorted(lists, key=repr)))
    items = _get(data, where)
    i, j = draw(st.sampled_from([(a, b) for a in range(len(items)) for b in range(len(items)) if a != b]))
    shared = [k for k in keys if isinstance(items[i], dict) and isinstance(items[j], dict)
              and k in items[i] and k in items[j]]
    if shared:
        k = draw(st.sampled_from(shared))
        items[j][k] = copy.deepcopy(items[i][k])


# ---- text mutations --------------------------------------------------------------
TAGS = ["!!python/object/apply:os.system ['true']", "!!python/name:os.system", "!!binary aGVsbG8=",
        "!!set {a, b}", "!!timestamp 2001-12-14", "!!float 1", "!!str 1001", "!!int '12'", "!custom x",
        "!!null ''", "!!omap [a: 1]", "!!map {a: 1}", "!!seq [1]", "!!bool yes", "!<tag:x.org,2000:y> z"]
NUMBERS = ["1e400", "-1e400", "123456789012345678901234567890", "0x7fffffffffffffffff", "0o7777777777777",
           ".inf", "-.inf", ".nan", "1_000_000", "0b1010", "99999999999999999999999999.5", "+12", "-0",
           "1:20", "1e-400", "1001.0", "1e3", "0017"]
SNIPPETS = [
    "servers:\n  - &s {name: hv1, role: compute}\n  - *s\n",           # a second key and an alias
    "x: &a [*a]\n",                                                    # alias before its anchor
    "x: &a [a, [b, [c]]]\ny: *a\n",
    "l0: &l0 [x, x, x, x, x, x, x, x, x]\nl1: &l1 [*l0, *l0, *l0, *l0, *l0, *l0, *l0, *l0, *l0]\n"
    "l2: &l2 [*l1, *l1, *l1, *l1, *l1, *l1, *l1, *l1, *l1]\nl3: &l3 [*l2, *l2, *l2, *l2, *l2, *l2, *l2, *l2]\n"
    "l4: [*l3, *l3, *l3, *l3, *l3, *l3, *l3, *l3, *l3]\n",            # an alias bomb
    "base: &b {role: mux}\nservers:\n  - {<<: *b, name: mux7}\n",     # merge key
    "? [a, b]\n: c\n",                                                 # a key that is a list
    "1: one\nnull: none\ntrue: yes\n3.5: x\n",                         # keys that are not strings
    "%YAML 1.1\n---\n", "--- !!map\n", "...\n", "---\nname: other\n",  # directives, documents
    "*undefined\n", "&a\n", "{\n", "[\n", "'unterminated\n", '"\\xZZ"\n', "- list item at top\n",
    "name: fuzz\n", "name: [fuzz]\n", "servers: ~\n", "servers: []\n", "servers: {}\n",
    "vms:\n\t- {name: v}\n", "key:\tvalue\n", "  odd: indent\n", "key: value: more\n",
]


def _mutate_text(draw: Any, text: str) -> str:
    lines = text.splitlines(keepends=True) or ["\n"]
    i = draw(st.integers(0, len(lines) - 1))
    op = draw(st.sampled_from(["tab", "duplicate-line", "tag", "number", "nest", "snippet", "control",
                               "newlines", "truncate", "delete-line", "long"]))
    note(f"text: {op} at line {i + 1}")
    line = lines[i]
    scalar = re.match(r"^(\s*(?:- )?[^:#\n]+:) (\S.*)$", line.rstrip("\n"))
    if op == "tab":
        lines[i] = re.sub(r"^( +)", lambda m: "\t" * draw(st.integers(1, 2)) + m.group(1)[2:], line, count=1) \
            if line.startswith(" ") else line.replace(": ", ":\t", 1)
    elif op == "duplicate-line":  # a key twice in one mapping, or an item twice in a list
        lines.insert(i, line)
    elif op == "tag" and scalar:
        lines[i] = f"{scalar.group(1)} {draw(st.sampled_from(TAGS))}\n"
    elif op == "number" and scalar:
        lines[i] = f"{scalar.group(1)} {draw(st.sampled_from(NUMBERS))}\n"
    elif op == "nest":
        depth = draw(st.sampled_from([5, 39, 41, 100, 1000, 20000]))
        value = "[" * depth + "]" * depth if draw(st.booleans()) else "{a: " * depth + "1" + "}" * depth
        lines[i] = f"{scalar.group(1)} {value}\n" if scalar else f"deep: {value}\n"
    elif op == "snippet":
        lines.insert(i if draw(st.booleans()) else len(lines), draw(st.sampled_from(SNIPPETS)))
    elif op == "control":
        char = draw(st.sampled_from(["\x00", "\x07", "\x1b", "\u2028", "\ufeff", "\x85", "\ud7ff", "\x7f"]))
        cut = draw(st.integers(0, len(line)))
        lines[i] = line[:cut] + char + line[cut:]
    elif op == "newlines":
        return "".join(lines).replace("\n", draw(st.sampled_from(["\r\n", "\r"])))
    elif op == "truncate":
        return "".join(lines)[: draw(st.integers(0, len(text)))]
    elif op == "delete-line":
        del lines[i]
    elif op == "long" and scalar:
        lines[i] = f"{scalar.group(1)} {'x' * draw(st.sampled_from([255, 4096, 100_000]))}\n"
    return "".join(lines)


def _encode(draw: Any, text: str) -> bytes:
    how = draw(st.sampled_from(["utf-8"] * 12 + ["utf-8-sig", "utf-16", "utf-16-le", "latin-1", "garbage",
                                                  "empty", "comments"]))
    note(f"bytes: {how}")
    if how == "garbage":
        cut = draw(st.integers(0, len(text)))
        return text[:cut].encode(errors="surrogatepass") + draw(st.binary(min_size=1, max_size=8)) \
            + text[cut:].encode(errors="surrogatepass")
    if how == "empty":
        return draw(st.sampled_from([b"", b"\n", b"   \n\t\n", b"\xef\xbb\xbf"]))
    if how == "comments":
        return b"# nothing but a comment\n"
    if how == "latin-1":
        return text.replace(LAB, "f\u00fczz", 1).encode("latin-1", errors="replace")
    return text.encode(how, errors="surrogatepass")


@st.composite
def topology_files(draw: Any) -> bytes:
    """One mutated topology file, as the bytes on disk."""
    base = draw(st.sampled_from(BASES))
    note(f"base: topologies/{base}")
    data = copy.deepcopy(BASE_DATA[base])
    for _ in range(draw(st.integers(0, 3))):
        _mutate_data(draw, data)
    try:
        text = yaml.dump(data, Dumper=DUMPER, sort_keys=False, default_flow_style=False, allow_unicode=True)
    except (yaml.YAMLError, RecursionError, ValueError) as exc:  # e.g. a dict holding itself as a key
        note(f"dump failed ({exc.__class__.__name__}): base text")
        text = (TOPOLOGIES / base).read_text().replace("name: ", f"name: {LAB}  # ", 1)
    for _ in range(draw(st.integers(0, 2))):
        text = _mutate_text(draw, text)
    return _encode(draw, text)
