"""Read a topology file and report every problem with its YAML path and line."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path as FsPath
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from lab.model.checks import Path, Problem, check_topology
from lab.model.topology import Topology


@dataclass(frozen=True)
class TopologyIssue:
    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        return f"{where}{self.path or '<top>'}: {self.message}"


class TopologyError(Exception):
    """An invalid topology; carries every issue found."""

    def __init__(self, source: str, issues: list[TopologyIssue]):
        self.source = source
        self.issues = issues
        super().__init__(f"{source}: {len(issues)} problem(s)\n" + "\n".join(f"  {i}" for i in issues))


def load_topology(path: str | FsPath) -> Topology:
    path = FsPath(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise TopologyError(str(path), [TopologyIssue("", None, f"cannot read file: {exc.strerror}")]) from None
    return parse_topology(text, str(path))


def parse_topology(text: str, source: str = "<topology>") -> Topology:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        raise TopologyError(source, [TopologyIssue("", line, f"not valid YAML: {exc}")]) from None
    lines = _line_map(root)
    if not isinstance(data, dict):
        raise TopologyError(source, [TopologyIssue("", 1, "the topology must be a mapping with name, servers, ...")])
    try:
        topo = Topology.model_validate(data)
    except ValidationError as exc:
        raise TopologyError(source, [_from_pydantic(e, lines) for e in exc.errors()]) from None
    problems = check_topology(topo)
    if problems:
        raise TopologyError(source, [_from_problem(p, lines) for p in problems])
    return topo


def _line_map(node: yaml.Node | None, path: Path = ()) -> dict[Path, int]:
    """Map every YAML path to the 1-based line where its value starts."""
    if node is None:
        return {}
    lines = {path: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = (*path, key.value)
            lines.update(_line_map(value, child))
            lines[child] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines.update(_line_map(item, (*path, i)))
    return lines


def _line_for(path: Path, lines: dict[Path, int]) -> int | None:
    for end in range(len(path), -1, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return None


def format_path(path: Path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _from_problem(p: Problem, lines: dict[Path, int]) -> TopologyIssue:
    return TopologyIssue(format_path(p.path), _line_for(p.path, lines), p.message)


def _from_pydantic(err: dict[str, Any], lines: dict[Path, int]) -> TopologyIssue:
    # pydantic adds validator names (e.g. 'function-after[...]') to loc; drop them
    path = tuple(p for p in err["loc"] if isinstance(p, int) or "[" not in str(p))
    message = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        allowed = _allowed_fields(path[:-1])
        message = f"unknown field '{path[-1]}'" + (f"; allowed: {', '.join(allowed)}" if allowed else "")
    elif err["type"] == "missing":
        message = f"required field '{path[-1]}' is missing"
    return TopologyIssue(format_path(path), _line_for(path, lines), message)


def _allowed_fields(path: Path) -> list[str]:
    """Field names of the model found at a YAML path, for 'unknown field' hints."""
    model: type[BaseModel] | None = Topology
    for part in path:
        if model is None:
            return []
        if isinstance(part, int):
            continue
        field = model.model_fields.get(str(part))
        model = _model_of(field.annotation) if field else None
    return list(model.model_fields) if model else []


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_of(arg)
        if found:
            return found
    return None
