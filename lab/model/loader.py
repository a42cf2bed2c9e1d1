"""Read a topology file and report every problem with its YAML path and line.

Validation is pure: it reads text and returns a Topology or raises
TopologyError carrying *all* issues found, so nothing is ever created from an
invalid file. Structural errors (pydantic) and cross-reference errors
(lab.model.checks) are collected in one run: checks still run over the
top-level sections that did validate.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from functools import cache
from pathlib import Path as FsPath
from typing import Annotated, Any, get_args

import yaml
from pydantic import BaseModel, TypeAdapter, ValidationError

from lab.model.checks import Path, check_topology, format_path
from lab.model.topology import NAME_PATTERN, Topology

__all__ = ["TopologyError", "TopologyIssue", "format_path", "load_topology", "parse_topology"]


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
        lines = "\n".join(f"  {i}" for i in issues)
        super().__init__(f"{source}: {len(issues)} problem(s)\n{lines}")


def load_topology(path: str | FsPath) -> Topology:
    path = FsPath(path)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise TopologyError(str(path), [TopologyIssue("", None, f"cannot read file: {reason}")]) from None
    return parse_topology(text, str(path))


def parse_topology(text: str, source: str = "<topology>") -> Topology:
    root, data = _read_yaml(text, source)
    too_big = _too_big(root)
    if too_big:
        raise TopologyError(source, [TopologyIssue("", None, too_big)])
    lines: dict[Path, int] = {}
    issues = _map_lines(root, (), lines, set())
    if not isinstance(data, dict):
        issues.append(TopologyIssue("", 1, "the topology must be a mapping with name, servers, ..."))
        raise TopologyError(source, issues)
    try:
        topo, broken = Topology.model_validate(data), set[str]()
    except ValidationError as exc:
        errors = exc.errors()
        issues += _pydantic_issues(errors, data, lines)
        broken = {str(e["loc"][0]) if e["loc"] else "*" for e in errors}
        topo, broken = _valid_sections(data, broken)
    issues += [_issue(p.path, p.message, lines) for p in check_topology(topo, broken)]
    issues += _ipv6_anywhere(data, issues, lines)
    if issues:
        unique = list(dict.fromkeys(issues))
        raise TopologyError(source, sorted(unique, key=lambda i: i.line or 0))
    return topo


# libyaml's parser when present: ~10x faster, same nodes and line marks
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read_yaml(text: str, source: str) -> tuple[yaml.Node | None, Any]:
    try:
        loader = _Loader(text)
        try:
            root = loader.get_single_node()
            data = loader.construct_document(root) if root is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        raise TopologyError(source, [TopologyIssue("", line, f"not valid YAML: {exc}")]) from None
    except RecursionError:
        raise TopologyError(source, [TopologyIssue("", None, "YAML nested too deeply")]) from None
    return root, data


MAX_VALUES, MAX_DEPTH = 100_000, 40


def _too_big(root: yaml.Node | None) -> str | None:
    """Refuse alias bombs and absurd nesting before anything walks the data
    recursively (aliases are expanded here, up to the limit)."""
    stack, count = [(root, 1)], 0
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_VALUES:
            return f"the YAML expands to more than {MAX_VALUES} values (aliases?)"
        if depth > MAX_DEPTH:
            return f"the YAML is nested deeper than {MAX_DEPTH} levels (a recursive alias?)"
        if isinstance(node, yaml.MappingNode):
            stack += [(value, depth + 1) for _, value in node.value]
        elif isinstance(node, yaml.SequenceNode):
            stack += [(item, depth + 1) for item in node.value]
    return None


def _map_lines(node: yaml.Node | None, path: Path, lines: dict[Path, int], seen: set[int]) -> list[TopologyIssue]:
    """Fill `lines` (YAML path -> 1-based line) and report duplicate keys.

    `seen` stops at nodes already visited: YAML aliases share nodes and may
    even be recursive."""
    if node is None or id(node) in seen:
        return []
    seen.add(id(node))
    lines.setdefault(path, node.start_mark.line + 1)
    issues: list[TopologyIssue] = []
    if isinstance(node, yaml.MappingNode):
        keys: dict[str, int] = {}
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode):
                continue
            child, line = (*path, key.value), key.start_mark.line + 1
            if key.value in keys:
                issues.append(
                    TopologyIssue(
                        format_path(child),
                        line,
                        f"duplicate key '{key.value}' (also line {keys[key.value]}); only the last one counts",
                    )
                )
            keys.setdefault(key.value, line)
            issues += _map_lines(value, child, lines, seen)
            lines[child] = line
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            issues += _map_lines(item, (*path, i), lines, seen)
    return issues


def _line_for(path: Path, lines: dict[Path, int]) -> int | None:
    for end in range(len(path), -1, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return None


def _issue(path: Path, message: str, lines: dict[Path, int]) -> TopologyIssue:
    return TopologyIssue(format_path(path), _line_for(path, lines), message)


def _pydantic_issues(errors: list[Any], data: Any, lines: dict[Path, int]) -> list[TopologyIssue]:
    """One issue per error; the branches of a union (e.g. a name or 'auto')
    that all failed at one path become a single 'expected A or B' issue."""
    issues: list[TopologyIssue] = []
    branches: dict[Path, list[Any]] = {}
    for err in errors:
        path, tagged = _real_path(err, data)
        if tagged:
            branches.setdefault(path, []).append(err)
        else:
            issues.append(_issue(path, describe(err, path), lines))
    for path, errs in branches.items():
        if len(errs) == 1:
            message = describe(errs[0], path)
        else:
            message = f"{show(errs[0].get('input'))} is not valid here; expected " + " or ".join(
                expected(e) for e in errs
            )
        issues.append(_issue(path, message, lines))
    return issues


def _real_path(err: Any, data: Any) -> tuple[Path, bool]:
    """Keep the parts of a pydantic loc that exist in the YAML; drop the tags
    pydantic adds for union branches and validators. Returns (path, tagged)."""
    loc, node = err["loc"], data
    path: list[str | int] = []
    tagged = False
    for n, part in enumerate(loc):
        if isinstance(node, dict) and _has_key(node, part):
            node = node[part]
            path.append(part if isinstance(part, str) else str(part))
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
            path.append(part)
        elif n == len(loc) - 1 and err["type"] == "missing":
            path.append(str(part))
        else:
            tagged = True
    return tuple(path), tagged


def _has_key(node: dict[Any, Any], part: Any) -> bool:
    try:
        return part in node
    except TypeError:
        return False


def _valid_sections(data: dict[Any, Any], broken: set[str]) -> tuple[Topology, set[str]]:
    """A Topology holding the top-level sections that validated on their own.

    Only checks that read none of the broken sections run over it, so the
    placeholders left for broken or absent required sections are never read."""
    if "*" in broken:
        return Topology.model_construct(), set(Topology.model_fields)
    values: dict[str, Any] = {}
    for name in Topology.model_fields:
        if name in broken or name not in data:
            continue
        try:
            values[name] = _section_adapter(name).validate_python(data[name])
        except ValidationError:
            broken.add(name)
    broken |= {name for name, f in Topology.model_fields.items() if f.is_required() and name not in values}
    return Topology.model_construct(**values), broken


@cache
def _section_adapter(name: str) -> TypeAdapter[Any]:
    field = Topology.model_fields[name]
    if field.metadata:
        return TypeAdapter(Annotated[field.annotation, *field.metadata])
    return TypeAdapter(field.annotation)


def _ipv6_anywhere(data: Any, issues: list[TopologyIssue], lines: dict[Path, int]) -> list[TopologyIssue]:
    """A value that is an IPv6 address or prefix is refused wherever it appears,
    even in a free-text field, unless an issue already covers that path."""
    covered = {i.path for i in issues}
    found: list[TopologyIssue] = []
    for path, value in _scalars(data, ()):
        if is_ipv6(value) and format_path(path) not in covered:
            found.append(_issue(path, f"{show(value)} is IPv6: IPv6 is not supported", lines))
    return found


def _scalars(node: Any, path: Path, depth: int = 0):
    if depth > 50:
        return
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _scalars(value, (*path, str(key)), depth + 1)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _scalars(value, (*path, i), depth + 1)
    else:
        yield path, node


# -- messages: say what is wrong and what is allowed, in the YAML's terms -----

PATTERN_HELP = {
    NAME_PATTERN: "lowercase letters, digits and '-', starting with a letter",
    r"^[a-z][a-z0-9]*$": "lowercase letters and digits, starting with a letter",
}


def describe(err: Any, path: Path) -> str:
    """A message for one pydantic error; IPv6 input always says IPv6 is unsupported."""
    message = _describe(err, path)
    value = err.get("input")
    if is_ipv6(value) and "IPv6" not in message:
        message = f"{show(value)} is IPv6: IPv6 is not supported ({message})"
    return message


def _describe(err: Any, path: Path) -> str:
    kind, ctx, value = err["type"], err.get("ctx") or {}, show(err.get("input"))
    if kind == "value_error":
        return str(err["msg"]).removeprefix("Value error, ")
    if kind == "missing":
        return f"required field '{path[-1]}' is missing"
    if kind == "extra_forbidden":
        allowed = allowed_fields(path[:-1])
        hint = "; IPv6 is not supported" if "6" in str(path[-1]) else ""
        return f"unknown field '{path[-1]}'{hint}" + (f"; allowed: {', '.join(allowed)}" if allowed else "")
    if kind == "string_pattern_mismatch":
        return f"{value} is not a valid name: use {_pattern_help(ctx)}"
    if kind == "literal_error":
        return f"{value} is not allowed; allowed: {ctx.get('expected', '')}"
    if kind in _BOUNDS:
        return f"{value} is out of range: {expected(err)}"
    if kind in ("model_type", "model_attributes_type", "dict_type") and allowed_fields(path):
        fields = ", ".join(allowed_fields(path))
        return f"{value} is not valid: expected a mapping with fields {fields}"
    return f"{value} is not valid: expected {expected(err)}"


_TYPES = {
    "int_parsing": "a whole number",
    "int_type": "a whole number",
    "int_from_float": "a whole number",
    "float_parsing": "a number",
    "float_type": "a number",
    "bool_parsing": "true or false",
    "bool_type": "true or false",
    "string_type": "text",
    "list_type": "a list",
    "recursion_loop": "no recursive YAML aliases",
}
_BOUNDS = {
    "greater_than_equal": ("at least", "ge", ""),
    "greater_than": ("greater than", "gt", ""),
    "less_than_equal": ("at most", "le", ""),
    "less_than": ("less than", "lt", ""),
    "string_too_long": ("at most", "max_length", " characters"),
    "string_too_short": ("at least", "min_length", " character(s)"),
    "too_long": ("at most", "max_length", " item(s)"),
    "too_short": ("at least", "min_length", " item(s)"),
}


def expected(err: Any) -> str:
    """What would have been accepted, as a phrase: 'a whole number', "'auto'"."""
    kind, ctx = err["type"], err.get("ctx") or {}
    if kind in _TYPES:
        return _TYPES[kind]
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return "a mapping"
    if kind == "literal_error":
        return str(ctx.get("expected", ""))
    if kind == "string_pattern_mismatch":
        return f"a name ({_pattern_help(ctx)})"
    if kind in _BOUNDS:
        word, key, unit = _BOUNDS[kind]
        return f"must be {word} {ctx.get(key)}{unit}"
    return str(err.get("msg", "a valid value")).removeprefix("Value error, ")


def _pattern_help(ctx: dict[str, Any]) -> str:
    pattern = str(ctx.get("pattern", ""))
    return PATTERN_HELP.get(pattern, f"text matching {pattern}")


def show(value: Any) -> str:
    """A value as the user wrote it in YAML, shortened."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    text = str(value)
    text = text if len(text) <= 40 else text[:37] + "..."
    return f"'{text}'" if isinstance(value, str) else text


def is_ipv6(value: Any) -> bool:
    if not isinstance(value, str) or ":" not in value:
        return False
    try:
        return ipaddress.ip_network(value.strip(), strict=False).version == 6
    except ValueError:
        return False


def allowed_fields(path: Path) -> list[str]:
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
    for arg in get_args(annotation):
        found = _model_of(arg)
        if found:
            return found
    return None
