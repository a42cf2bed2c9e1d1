"""Read a topology file and report every problem with its YAML path and line.

Validation is pure: it reads text and returns a Topology or raises
TopologyError carrying *all* issues found, so nothing is ever created from an
invalid file. Structural errors (pydantic) and cross-reference errors
(lab.model.checks) are collected in one run: checks still run over what
did validate (lab.model.partial), so fixing one problem never reveals another
that was there all along.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path as FsPath
from typing import Any

import yaml
from pydantic import ValidationError

from lab.model.checks import Path, check_topology, format_path
from lab.model.messages import describe, expected, is_ipv6, show
from lab.model.partial import drop_typo_fallout, real_path, valid_sections
from lab.model.topology import Topology

__all__ = ["DOCUMENT", "FILE", "TopologyError", "TopologyIssue", "format_path", "load_topology", "parse_topology"]


# The path of a problem with the document as a whole (not valid YAML, not a
# mapping, too big) or with the file (unreadable): every issue names a path,
# so a script reading `lab validate --format json` never gets an empty one.
DOCUMENT, FILE = "<document>", "<file>"


@dataclass(frozen=True)
class TopologyIssue:
    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        return f"{where}{self.path or DOCUMENT}: {self.message}"


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
        raise TopologyError(str(path), [TopologyIssue(FILE, None, f"cannot read file: {reason}")]) from None
    return parse_topology(text, str(path))


def parse_topology(text: str, source: str = "<topology>") -> Topology:
    root, data = _read_yaml(text, source)
    too_big = _too_big(root)
    if too_big:
        raise TopologyError(source, [TopologyIssue(DOCUMENT, 1, too_big)])
    lines: dict[Path, int] = {}
    issues = _map_lines(root, (), lines, set())
    if not isinstance(data, dict):
        issues.append(TopologyIssue(DOCUMENT, 1, "the topology must be a mapping with name, servers, ..."))
        raise TopologyError(source, issues)
    try:
        topo, broken = Topology.model_validate(data), set[str]()
    except ValidationError as exc:
        errors, meant = drop_typo_fallout(exc.errors(), data)
        issues += _pydantic_issues(errors, data, lines)
        topo, broken = valid_sections(data, errors, meant)
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
        raise TopologyError(source, [_yaml_issue(exc, source)]) from None
    except RecursionError:
        raise TopologyError(source, [TopologyIssue(DOCUMENT, None, "YAML nested too deeply")]) from None
    return root, data


def _yaml_issue(exc: yaml.YAMLError, source: str) -> TopologyIssue:
    """One line naming the file, line and column, in the parser's words."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if not isinstance(exc, yaml.MarkedYAMLError) or mark is None:
        return TopologyIssue(DOCUMENT, None, f"not valid YAML: {str(exc).replace('<unicode string>', source)}")
    what = exc.problem or "syntax error"
    context = exc.context_mark
    if exc.context and context is not None:
        at = (context.line, context.column) != (mark.line, mark.column)
        what += f" ({exc.context}" + (f" at line {context.line + 1}, column {context.column + 1})" if at else ")")
    where = f"{source}, line {mark.line + 1}, column {mark.column + 1}"
    return TopologyIssue(DOCUMENT, mark.line + 1, f"not valid YAML ({where}): {what}")


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
    return TopologyIssue(format_path(path) or DOCUMENT, _line_for(path, lines), message)


def _pydantic_issues(errors: list[Any], data: Any, lines: dict[Path, int]) -> list[TopologyIssue]:
    """One issue per error; the branches of a union (e.g. a name or 'auto')
    that all failed at one path become a single 'expected A or B' issue."""
    issues: list[TopologyIssue] = []
    branches: dict[Path, list[Any]] = {}
    for err in errors:
        path, tagged = real_path(err, data)
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
