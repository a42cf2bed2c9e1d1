"""Topology model: pydantic schema, seed limits and cross-reference checks.

The names below load on first use (PEP 562), so importing a light submodule
(lab.model.problems) does not pull in pydantic and the whole schema."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lab.model.loader import TopologyError, load_topology, parse_topology
    from lab.model.topology import Topology

__all__ = ["Topology", "TopologyError", "load_topology", "parse_topology"]
_WHERE = {"Topology": "lab.model.topology", "TopologyError": "lab.model.loader",
          "load_topology": "lab.model.loader", "parse_topology": "lab.model.loader"}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'lab.model' has no attribute {name!r}")
