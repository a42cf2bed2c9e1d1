"""`lab graph`: the topology as Graphviz DOT or Mermaid."""

from lab.graph.render import build_graph, render, to_dot, to_mermaid

__all__ = ["build_graph", "render", "to_dot", "to_mermaid"]
