"""The import structure is the architecture: model <- plan <- apply <-
providers / compute / lb <- verify <- report <- cli, and the `stacklab`
package (the Python API) on top, beside cli. Walked with `ast`, so a lazy
import inside a function counts as much as one at the top."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

LAB = Path(__file__).resolve().parents[2] / "lab"
API = LAB.parent / "stacklab"
# importable from anywhere; they import no layer
BASE = {"lab", "lab.paths", "lab.features", "lab.exitcodes", "lab.lines"}
LAYERS = {"model": 0, "plan": 1, "apply": 2, "providers": 3, "compute": 3, "lb": 3, "ops": 3, "vpn": 3,
          "verify": 4, "graph": 5, "report": 5, "cli": 6, "stacklab": 7}
# siblings on one layer that may use each other (no cycle): the LB's VM
# backends and the BMCs' systems are compute's VMs; the VPN's keys are lab
# secrets (ops); the ansible provider renders a VPN tunnel as the embedded
# lab does (lab.vpn.render)
SIBLINGS = {("lb", "compute"), ("ops", "compute"), ("vpn", "ops"), ("providers", "vpn")}
MAX_LINES = 400


def module_name(path: Path) -> str:
    parts = path.relative_to(LAB.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


SOURCES = [*LAB.rglob("*.py"), *API.rglob("*.py")]
MODULES = {module_name(p): p for p in SOURCES}


def layer_of(module: str) -> tuple[str, int] | None:
    if module in BASE or module == "lab.__main__":
        return None
    parts = module.split(".")
    if parts[0] == "stacklab":
        return "stacklab", LAYERS["stacklab"]
    if parts[1] == "cli":
        return "cli", LAYERS["cli"]
    return parts[1], LAYERS[parts[1]]


def _runtime_nodes(node: ast.AST):
    """Every node but those under `if TYPE_CHECKING:` (hints, not imports at run time)."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
            yield from (n for stmt in child.orelse for n in [stmt, *_runtime_nodes(stmt)])
            continue
        yield child
        yield from _runtime_nodes(child)


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    found = set()
    for node in _runtime_nodes(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from pkg import sub` imports the submodule; `from pkg import name`, the package
            for a in node.names:
                sub = f"{node.module}.{a.name}"
                found.add(sub if sub in MODULES else node.module)
    return {m for m in found if m in ("lab", "stacklab") or m.startswith(("lab.", "stacklab."))}


def resolve(name: str) -> str | None:
    """`from lab.x import y` names a module or an attribute: the longest module."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def test_no_import_reaches_a_higher_layer_or_an_unrelated_sibling():
    bad = []
    for module, path in sorted(MODULES.items()):
        mine = layer_of(module)
        if mine is None:
            continue
        for target in sorted({t for t in map(resolve, imports(path)) if t}):
            theirs = layer_of(target)
            if theirs is None or theirs[0] == mine[0]:
                continue
            if theirs[1] > mine[1] or (theirs[1] == mine[1] and (mine[0], theirs[0]) not in SIBLINGS):
                bad.append(f"{module} ({mine[0]}) imports {target} ({theirs[0]})")
    assert not bad, "\n".join(bad)


def test_every_verb_lives_in_the_cli_package():
    """containerlab's cmd/: no feature package defines commands of its own."""
    assert not [m for m in MODULES if m.endswith(".commands")]


def test_base_modules_import_nothing_of_the_layers():
    for module in sorted(BASE - {"lab"}):
        assert not [t for t in imports(MODULES[module]) if layer_of(resolve(t) or "lab")], module


def test_the_module_graph_has_no_cycle():
    graph = {m: {t for t in map(resolve, imports(p)) if t and t != m} for m, p in MODULES.items()}
    state: dict[str, int] = {}

    def visit(m: str, stack: list[str]) -> None:
        state[m] = 1
        for t in sorted(graph.get(m, ())):
            if state.get(t) == 1:
                pytest.fail("import cycle: " + " -> ".join([*stack[stack.index(t):], t]))
            if t not in state:
                visit(t, [*stack, t])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])


def test_the_api_is_on_top_and_the_command_line_does_not_use_it():
    assert "stacklab" in MODULES
    assert [t for t in imports(MODULES["stacklab"]) if t.startswith("lab.cli")] == []
    assert not [m for m, p in MODULES.items() if m.startswith("lab.") and "stacklab" in imports(p)]


def test_no_module_is_over_400_lines():
    """The rig, its API, the collectors and the tests alike."""
    everything = [*SOURCES, *(f for d in ("collectors", "tests", "scripts")
                              for f in (LAB.parent / d).rglob("*.py"))]
    long = {str(p.relative_to(LAB.parent)): n for p in everything if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, long


# the endpoint kinds are told apart by the models that define them and by
# the one interface that runs them; everyone else asks `is_vm` or `plan.vms()`
KIND_HOMES = {"lab.model.topology", "lab.plan.model", "lab.plan.lb_model", "lab.compute.endpoints"}
ENDPOINT_KINDS = {"vm", "netns"}


def _names_kind(node: ast.AST) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == "kind") or (isinstance(node, ast.Name)
                                                                         and node.id == "kind")


def _is_kind_literal(node: ast.AST) -> bool:
    values = node.elts if isinstance(node, ast.Tuple | ast.List | ast.Set) else [node]
    return any(isinstance(v, ast.Constant) and v.value in ENDPOINT_KINDS for v in values)


def kind_branches(path: Path) -> list[int]:
    """Lines comparing something's `kind` with "vm" or "netns"."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if any(map(_names_kind, sides)) and any(map(_is_kind_literal, sides)):
                found.append(node.lineno)
    return found


def _names_namespace(node: ast.AST) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "namespace"


def namespace_branches(path: Path) -> list[int]:
    """Lines telling an endpoint's kind by whether it has a namespace: a
    `.namespace` compared with None or taken as true or false."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Compare) and isinstance(node.ops[0], ast.Is | ast.IsNot):
            sides = [node.left, *node.comparators]
            if any(map(_names_namespace, sides)) and any(isinstance(s, ast.Constant) and s.value is None
                                                         for s in sides):
                found.append(node.lineno)
        tests = (node.values if isinstance(node, ast.BoolOp) else [node.operand]
                 if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not) else [node.test]
                 if isinstance(node, ast.If | ast.IfExp | ast.While) else [])
        found += [node.lineno for t in tests if _names_namespace(t)]
    return sorted(set(found))


def test_endpoint_kinds_are_told_apart_only_behind_the_endpoint_interface():
    bad = {m: lines for m, p in MODULES.items() if m not in KIND_HOMES and (lines := kind_branches(p))}
    assert not bad, bad


def test_the_load_balancer_asks_the_endpoint_not_its_namespace():
    """A backend without a namespace is a VM: lab.lb asks the endpoint
    (lab.compute.endpoints) instead of branching on that."""
    bad = {m: lines for m, p in MODULES.items() if m.startswith("lab.lb.") and (lines := namespace_branches(p))}
    assert not bad, bad


def test_the_kind_check_sees_a_kind_branch(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text('if e.kind == "vm":\n    pass\nx = [e for e in es if e.kind in ("netns",)]\n')
    assert kind_branches(probe) == [1, 3]


def test_the_namespace_check_sees_a_kind_branch(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("if b.namespace is None:\n    pass\nok = b.namespace and has(b)\n"
                     "x = b.namespace or ''\nif not b.namespace:\n    pass\n"
                     "if namespace is None:\n    pass\n")
    assert namespace_branches(probe) == [1, 3, 4, 5]


def test_names_of_namespaces_and_the_home_default_are_written_once():
    """lab.plan.naming builds every namespace and endpoint host name,
    lab.paths holds STACKLAB_HOME's default."""
    found = []
    for module, path in MODULES.items():
        text = path.read_text()
        if module != "lab.plan.naming" and ('f"ep.' in text or '"ep."' in text):
            found.append(f"{module}: an endpoint host name")
        if module != "lab.paths" and "/var/lib/stacklab" in text:
            found.append(f"{module}: STACKLAB_HOME's default")
    assert not found, found


def test_sibling_packages_use_each_other_one_way_only():
    assert not [(a, b) for a, b in SIBLINGS if (b, a) in SIBLINGS]
