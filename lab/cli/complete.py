"""Shell completion of what a person cannot guess: lab names, the nodes and
VMs of a lab, fault kinds.

It runs on every <TAB>, so it reads files and imports nothing heavy: lab
names are directories under $STACKLAB_HOME, nodes and VMs come from the
lab's saved plan.json read as plain JSON (no pydantic), fault kinds from the
fault modules' source read with `ast` (importing them would load pyroute2,
libvirt and numpy: about 1.7 s). tests/model/test_completion.py checks each
against the real thing (lab.providers.nodes, lab.verify.catalog).
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import typer

from lab.features import FEATURES
from lab.paths import home, lab_dir
from lab.plan.naming import ENDPOINT_HOST_PREFIX

LAB_PACKAGE = Path(__file__).resolve().parents[1]


def _dirs(path: Path) -> set[str]:
    return {p.name for p in path.iterdir() if p.is_dir()} if path.is_dir() else set()


def lab_names(incomplete: str) -> list[str]:
    """Labs up here, and labs whose results outlived them (history, report)."""
    names = _dirs(home() / "labs") | _dirs(home() / "results")
    return sorted(n for n in names if n.startswith(incomplete))


def _lab_of(ctx: typer.Context) -> str | None:
    """The lab the command line names so far: --lab, LAB, a topology file,
    or the only lab here."""
    params = ctx.params
    if params.get("lab"):
        value = str(params["lab"])
        return _name_in_file(Path(value)) if value.endswith((".yaml", ".yml")) else value
    for key in ("topology", "topology_option"):
        if params.get(key):
            return _name_in_file(Path(params[key]))
    labs = sorted(_dirs(home() / "labs"))
    return labs[0] if len(labs) == 1 else None


def _name_in_file(path: Path) -> str | None:
    import yaml

    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return None
    return data.get("name") if isinstance(data, dict) else None


def _plan(ctx: typer.Context) -> dict[str, Any]:
    lab = _lab_of(ctx)
    try:
        data = json.loads((lab_dir(lab) / "plan.json").read_text()) if lab else {}
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def plan_node_names(plan: dict[str, Any]) -> list[str]:
    """What `lab exec` accepts, as a person types it: hosts (an endpoint by
    its own name rather than its `ep.` host), then VMs."""
    names = [h["name"].removeprefix(ENDPOINT_HOST_PREFIX) for h in plan.get("hosts", [])]
    names += [e["name"] for e in plan.get("endpoints", []) if e.get("kind") == "vm"]
    return list(dict.fromkeys(names))


def node_names(ctx: typer.Context, incomplete: str) -> list[str]:
    return [n for n in plan_node_names(_plan(ctx)) if n.startswith(incomplete)]


def vm_names(ctx: typer.Context, incomplete: str) -> list[str]:
    vms = [e["name"] for e in _plan(ctx).get("endpoints", []) if e.get("kind") == "vm"]
    return [n for n in vms if n.startswith(incomplete)]


def fault_kinds(incomplete: str) -> list[str]:
    kinds: set[str] = set()
    for feature in FEATURES:
        if feature.faults:
            kinds |= _dict_keys(feature.faults, "FAULTS", depth=0)
    return sorted(k for k in kinds if k.startswith(incomplete))


def _source(module: str) -> Path | None:
    """A lab module's file, found without importing it or its packages."""
    base = LAB_PACKAGE.parent.joinpath(*module.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _dict_keys(module: str, name: str, depth: int) -> set[str]:
    """String keys of the module-level dict `name`, following `**other.NAME`
    and `NAME = OTHER` the way the fault modules build theirs."""
    path = _source(module)
    if path is None or depth > 4:
        return set()
    tree = ast.parse(path.read_text(), str(path))
    imported = {alias.asname or alias.name: f"{node.module}.{alias.name}"
                for node in tree.body if isinstance(node, ast.ImportFrom) and node.module
                for alias in node.names}
    for node in tree.body:
        target = node.target if isinstance(node, ast.AnnAssign) else (
            node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else None)
        if isinstance(target, ast.Name) and target.id == name and node.value is not None:
            return _keys_of(node.value, module, imported, depth)
    return set()


def _keys_of(value: ast.expr, module: str, imported: dict[str, str], depth: int) -> set[str]:
    if isinstance(value, ast.Name):
        return _dict_keys(module, value.id, depth + 1)
    if not isinstance(value, ast.Dict):
        return set()
    keys = {k.value for k in value.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}
    for key, item in zip(value.keys, value.values, strict=True):
        if key is None and isinstance(item, ast.Attribute) and isinstance(item.value, ast.Name) \
                and item.value.id in imported:
            keys |= _dict_keys(imported[item.value.id], item.attr, depth + 1)
        elif key is None:
            keys |= _keys_of(item, module, imported, depth)
    return keys
