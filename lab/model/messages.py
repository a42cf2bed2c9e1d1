"""Messages for structural (pydantic) errors, in the YAML's terms: what is
wrong, what is allowed, and for a near miss what was probably meant."""

from __future__ import annotations

import ipaddress
import re
from typing import Any, get_args

from pydantic import BaseModel

from lab.model.fields import NAME_PATTERN
from lab.model.problems import Path, closest, did_you_mean
from lab.model.topology import Topology

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
        return f"unknown key '{path[-1]}'{did_you_mean(path[-1], allowed)}{hint}" + (
            f"; allowed: {', '.join(allowed)}" if allowed else ""
        )
    if kind == "string_pattern_mismatch":
        return f"{value} is not a valid name: use {_pattern_help(ctx)}"
    if kind == "literal_error":
        choices = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        hint = did_you_mean(err.get("input"), choices)
        return f"{value} is not allowed{hint}; allowed: {ctx.get('expected', '')}"
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


def typo_target(path: Path) -> str | None:
    """For an unknown key, the allowed key it is a near miss of, if any."""
    return closest(path[-1], allowed_fields(path[:-1]))


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
