"""What the cross-reference checks may read when structural validation failed.

A top-level section that validated is used as is. A list section with broken
items becomes an `Items` list of the items that did validate (with their file
indices and the names of the dropped ones), so e.g. a duplicate VM name is
found in the same run as a bad size on another VM. Any other broken section
is left out and every check that reads it is skipped.

A misspelt key (`tenats:` for `tenants:`) is reported once, as a typo: the
"missing" error of the key it was meant to be is dropped, and the section it
names counts as broken (its content is unknown), so nothing that refers to
it is reported as unknown.
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any, get_args, get_origin

from pydantic import BaseModel, TypeAdapter

from lab.model.messages import typo_target
from lab.model.problems import Items, Path
from lab.model.topology import Topology


def real_path(err: Any, data: Any) -> tuple[Path, bool]:
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


def drop_typo_fallout(errors: list[Any], data: Any) -> tuple[list[Any], set[Path]]:
    """Errors without the "missing" ones a misspelt key explains, and the
    paths the misspelt keys were meant to be."""
    meant: set[Path] = set()
    for err in errors:
        if err["type"] != "extra_forbidden":
            continue
        path, _ = real_path(err, data)
        target = typo_target(path)
        if target is not None and not _has_key(_node_at(data, path[:-1]), target):
            meant.add((*path[:-1], target))
    kept = [e for e in errors if not (e["type"] == "missing" and real_path(e, data)[0] in meant)]
    return kept, meant


def _node_at(data: Any, path: Path) -> Any:
    for part in path:
        data = data[part]
    return data if isinstance(data, dict) else {}


def valid_sections(data: dict[Any, Any], errors: list[Any], meant: set[Path]) -> tuple[Topology, set[str]]:
    """A Topology of what validated, and the sections that are broken.

    Only checks that read none of the broken sections run over it, so the
    placeholders left for broken or absent required sections are never read."""
    if any(not e["loc"] for e in errors):
        return Topology.model_construct(), set(Topology.model_fields)
    by_section: dict[str, list[Any]] = {}
    for err in errors:
        by_section.setdefault(str(err["loc"][0]), []).append(err)
    broken = {str(p[0]) for p in meant if len(p) == 1}
    values: dict[str, Any] = {}
    for name in Topology.model_fields:
        if name in broken or name not in data:
            continue
        section = _section(name, data[name], by_section.get(name, []))
        if section is None:
            broken.add(name)
        else:
            values[name] = section
    broken |= {name for name, f in Topology.model_fields.items() if f.is_required() and name not in values}
    return Topology.model_construct(**values), broken


def _section(name: str, value: Any, errors: list[Any]) -> Any | None:
    if not errors:
        return _section_adapter(name).validate_python(value)
    item = _item_model(name)
    failed = {e["loc"][1] if len(e["loc"]) > 1 else None for e in errors}
    if item is None or not isinstance(value, list) or not all(isinstance(i, int) for i in failed):
        return None
    good = [(i, item.model_validate(raw)) for i, raw in enumerate(value) if i not in failed]
    names = [raw.get("name") if isinstance(raw, dict) else None for i, raw in enumerate(value) if i in failed]
    dropped = frozenset(names) if all(isinstance(n, str) for n in names) else None
    return Items(good, dropped)


def _item_model(name: str) -> type[BaseModel] | None:
    """The item model of a list section (servers -> Server), else None."""
    annotation = Topology.model_fields[name].annotation
    if get_origin(annotation) is not list:
        return None
    (item,) = get_args(annotation)
    return item if isinstance(item, type) and issubclass(item, BaseModel) else None


@cache
def _section_adapter(name: str) -> TypeAdapter[Any]:
    field = Topology.model_fields[name]
    if field.metadata:
        return TypeAdapter(Annotated[field.annotation, *field.metadata])
    return TypeAdapter(field.annotation)
