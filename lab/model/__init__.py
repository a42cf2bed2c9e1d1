"""Topology model: pydantic schema, seed limits and cross-reference checks."""

from lab.model.loader import TopologyError, load_topology, parse_topology
from lab.model.topology import Topology

__all__ = ["Topology", "TopologyError", "load_topology", "parse_topology"]
