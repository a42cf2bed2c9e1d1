"""The topology's JSON Schema and its reference page, both from the pydantic model.

`lab schema` prints the schema (for an editor's YAML language server);
`lab schema --markdown` prints docs/topology.md. Descriptions, limits and the
seed concept of each field (`x-seed`) live once, in lab/model/topology.py,
so the two cannot disagree; tests/model/test_schema_docs.py fails when the
committed files are stale.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic.json_schema import GenerateJsonSchema

from lab.model import seeds
from lab.model.messages import PATTERN_HELP
from lab.model.sizes import DISK_TIERS, VM_SIZES
from lab.model.topology import Topology

SCHEMA_ID = "https://stacklab.invalid/topology.schema.json"
REGENERATE = "make docs (lab schema --markdown > docs/topology.md; lab schema > docs/topology.schema.json)"


class _WithFactoryDefaults(GenerateJsonSchema):
    """Show the value of a default_factory (e.g. one eth0 NIC) as the default;
    pydantic leaves factory defaults out unless told (its documented hook)."""

    def get_default_value(self, schema: Any) -> Any:
        factory = schema.get("default_factory")
        if factory is not None and not schema.get("default_factory_takes_data"):
            default = factory()
            return default.model_dump(mode="json") if hasattr(default, "model_dump") else default
        return super().get_default_value(schema)


def topology_schema() -> dict[str, Any]:
    schema = Topology.model_json_schema(schema_generator=_WithFactoryDefaults)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID,
            "title": "stacklab topology", **{k: v for k, v in schema.items() if k != "title"}}


def schema_json() -> str:
    return json.dumps(topology_schema(), indent=2) + "\n"


def topology_markdown() -> str:
    schema = topology_schema()
    defs = schema.get("$defs", {})
    lines = [
        "# Topology reference",
        "",
        f"<!-- generated from lab/model/topology.py; regenerate: {REGENERATE} -->",
        "",
        "Every field a topology file may hold, with its type, default and limits, and the seed",
        "concept it comes from. Unknown keys are errors; so are the cross-field rules named in the",
        "descriptions (run `lab validate FILE` to see every problem at once). The same model gives",
        "the JSON Schema: `lab schema` (see the README for editor set-up).",
        "",
    ]
    for name, model in _models_in_order(schema, defs):
        lines += _section(name, model)
    lines += _sizes() + _sources()
    return "\n".join(lines)


def _models_in_order(schema: dict[str, Any], defs: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Topology first, then each model where it is first referred to."""
    order, queue = [("Topology", schema)], [schema]
    while queue:
        for ref in _refs(queue.pop(0)):
            if ref not in [n for n, _ in order]:
                order.append((ref, defs[ref]))
                queue.append(defs[ref])
    return order


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"].rsplit("/", 1)[-1]] if "$ref" in node else []
        return own + [r for key, value in node.items() if key != "$defs" for r in _refs(value)]
    if isinstance(node, list):
        return [r for item in node for r in _refs(item)]
    return []


def _section(name: str, model: dict[str, Any]) -> list[str]:
    required = set(model.get("required", []))
    rows = ["| field | type | default | limits | description | seed |", "|---|---|---|---|---|---|"]
    for field, prop in model["properties"].items():
        default = "**required**" if field in required else _default(prop)
        cells = [f"`{field}`", _type(prop), default, _limits(prop), prop.get("description", ""),
                 _seed(prop.get("x-seed", ""))]
        rows.append("| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |")
    about = " ".join(model.get("description", "").split())
    return [f"## {name}", "", about, "", *rows, ""]


def _type(prop: dict[str, Any]) -> str:
    if "anyOf" in prop:
        return " or ".join(_type(p) for p in prop["anyOf"])
    if "$ref" in prop:
        ref = prop["$ref"].rsplit("/", 1)[-1]
        return f"[{ref}](#{ref.lower()})"
    if "const" in prop:
        return f"`{json.dumps(prop['const'])}`"
    if "enum" in prop:
        return "a VM size (below)" if len(prop["enum"]) > 6 else " or ".join(f"`{v}`" for v in prop["enum"])
    kind = prop.get("type")
    if kind == "array":
        return f"list of {_type(prop['items'])}"
    if prop.get("format") == "ipv4":
        return "IPv4 address"
    if kind == "string" and "/" in prop.get("pattern", ""):
        return "IPv4 prefix"
    return {"integer": "integer", "number": "number", "boolean": "boolean", "string": "text",
            "null": "null"}.get(str(kind), str(kind))


def _default(prop: dict[str, Any]) -> str:
    if "default" not in prop:
        return ""
    value = prop["default"]
    if isinstance(value, dict):
        return "its defaults"
    return f"`{json.dumps(value)}`"


_BOUNDS = (("minimum", ">= {}"), ("exclusiveMinimum", "> {}"), ("maximum", "<= {}"),
           ("exclusiveMaximum", "< {}"), ("minItems", "at least {} item(s)"))


def _limits(prop: dict[str, Any]) -> str:
    found = [text.format(prop[key]) for key, text in _BOUNDS if key in prop]
    if "maxLength" in prop:
        found.append(f"{prop.get('minLength', 0)}-{prop['maxLength']} characters")
    if prop.get("pattern") in PATTERN_HELP:
        found.append(PATTERN_HELP[prop["pattern"]])
    inner = [_limits(p) for p in prop.get("anyOf", [])] + ([_limits(prop["items"])] if "items" in prop else [])
    return "; ".join(found + [i for i in inner if i])


def _seed(concept: str) -> str:
    return "" if concept == seeds.RIG else concept


def _sizes() -> list[str]:
    rows = ["## VM sizes", "", "Valid values of `vms[].size` (Azure Stack offers the A, D and Dv2 series).", "",
            "| size | cores | memory (MB) | max data disks |", "|---|---|---|---|"]
    rows += [f"| `{s.name}` | {s.cores} | {s.memory_mb} | {s.max_data_disks} |" for s in VM_SIZES.values()]
    rows += ["", "## Disk tiers", "", "| tier | IOPS cap per disk |", "|---|---|"]
    rows += [f"| `{tier}` | {cap or 'uncapped'} |" for tier, cap in DISK_TIERS.items()]
    return [*rows, ""]


def _sources() -> list[str]:
    return ["## Seeds", "", f"- {seeds.ARCH}: the seed article \"Azure Stack – in-depth architecture\".",
            f"- {seeds.VM}: the seed article \"Azure Virtual Machine Internals – Part 1\".",
            "- An empty seed cell: the field is stacklab's own (what the rig needs to run the seeds' concepts"
            " on one machine).", ""]
