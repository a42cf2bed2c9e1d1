"""Bad topologies derived from a base topology by a textual mutation, so line
numbers in the expectations are lines of tests/model/base.yaml (a fixed copy
of the foundation's default lab: the shipped default may grow freely)."""

from __future__ import annotations

from pathlib import Path

EMBEDDED = Path(__file__).with_name("base.yaml")

# Inserted before "specs:" by the load-balancer mutations; the item is on the
# line after the one where "specs:" was.
LB_HEAD = "load_balancers:\n  - {name: web, tenant: red, backends: [red-web1, red-web2], frontends: "


def default_text() -> str:
    return EMBEDDED.read_text()


def mutate(old: str, new: str, text: str | None = None) -> tuple[str, int]:
    """Replace the single occurrence of `old`; return the text and the line
    where `old` started (1-based)."""
    text = default_text() if text is None else text
    assert text.count(old) == 1, f"{old!r} must occur exactly once in the default topology"
    line = text[: text.index(old)].count("\n") + 1
    return text.replace(old, new), line


def with_lb(frontends: str, tail: str = "}") -> str:
    """The replacement text for 'specs:' that adds one load balancer."""
    return f"{LB_HEAD}{frontends}{tail}\nspecs:"
