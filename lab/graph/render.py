"""The topology as a picture: Graphviz DOT and Mermaid.

Pure functions over a validated Topology. One neutral graph (nodes, edges,
groups) is built first and each format only spells it, so the two pictures
always show the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lab.model.topology import LoadBalancer, Server, Topology, Vm


@dataclass(frozen=True)
class Node:
    id: str
    lines: tuple[str, ...]
    kind: str  # a key of DOT_SHAPES / MERMAID_SHAPES


@dataclass(frozen=True)
class Edge:
    src: str
    dst: str
    label: str = ""
    style: str = "solid"  # solid, dashed, dotted
    directed: bool = True


@dataclass
class Group:
    id: str
    label: str
    members: list[str] = field(default_factory=list)


@dataclass
class Graph:
    title: str
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)


def build_graph(topo: Topology) -> Graph:
    """ToR, servers, client, tenants with their VMs, load balancers with VIPs."""
    under = topo.underlay
    graph = Graph(f"lab {topo.name}: underlay {under.subnet}, MTU {under.mtu}")
    _fabric(topo, graph)
    _tenants(topo, graph)
    for lb in topo.load_balancers:
        _load_balancer(topo, lb, graph)
    return graph


def _fabric(topo: Topology, graph: Graph) -> None:
    ext, tor = topo.external, topo.tor
    client = str(ext.client_address) if ext.client_address else f"in {ext.subnet}"
    graph.nodes.append(Node("client", ("client (internet side)", client), "client"))
    gateway = topo.underlay.subnet.network_address + 1
    graph.nodes.append(Node("tor", (f"ToR {tor.name}", f"AS {tor.asn}", f"gateway {gateway}"), "tor"))
    graph.edges.append(Edge("client", "tor", f"{ext.subnet}, VIPs {ext.vip_pool}", directed=False))
    clusters: dict[str, Group] = {}
    for server in topo.servers:
        node = _server_node(server)
        graph.nodes.append(node)
        graph.edges.append(Edge("tor", node.id, directed=False))
        if server.role == "compute":
            group = clusters.setdefault(
                server.cluster, Group(f"hci_{_ident(server.cluster)}", f"cluster {server.cluster} (hyper-converged)")
            )
            group.members.append(node.id)
    graph.groups.extend(clusters.values())


def _server_node(server: Server) -> Node:
    nics = tuple(f"{nic.name} {nic.speed_gbps}G" + (" RDMA" if nic.rdma else "") for nic in server.nics)
    address = str(server.address) if server.address else "address auto"
    return Node(_server_id(server.name), (server.name, server.role, address, *nics), server.role)


def _tenants(topo: Topology, graph: Graph) -> None:
    for tenant in topo.tenants:
        subnets = ", ".join(f"{s.name} {s.prefix}" for s in tenant.subnets)
        group = Group(f"tenant_{_ident(tenant.name)}", f"tenant {tenant.name}, VNI {tenant.vni}: {subnets}")
        for vm in topo.vms:
            if vm.tenant != tenant.name:
                continue
            node = _vm_node(vm, tenant.subnets[0].name)
            graph.nodes.append(node)
            group.members.append(node.id)
            if vm.server != "auto":
                graph.edges.append(Edge(node.id, _server_id(vm.server), "on", "dashed"))
        for lb in topo.load_balancers:
            if lb.tenant == tenant.name:
                group.members.append(_lb_id(lb.name))
        graph.groups.append(group)


def _vm_node(vm: Vm, default_subnet: str) -> Node:
    address = str(vm.address) if vm.address else "address auto"
    lines = [vm.name, f"{address} ({vm.subnet or default_subnet})"]
    if vm.is_vm:
        lines.append(vm.size + (f", {len(vm.data_disks)} data disks" if vm.data_disks else ""))
    else:
        lines.append("netns endpoint")
    if vm.server == "auto":
        lines.append("placement auto")
    return Node(_vm_id(vm.name), tuple(lines), "vm")


def _load_balancer(topo: Topology, lb: LoadBalancer, graph: Graph) -> None:
    probe = lb.probe
    mux = f"mux {lb.mux}" if lb.mux else "any mux"
    lines = (f"LB {lb.name}", mux, f"probe {probe.protocol}:{probe.port} every {probe.interval_s:g}s")
    graph.nodes.append(Node(_lb_id(lb.name), lines, "lb"))
    for j, fe in enumerate(lb.frontends):
        vip_id = f"vip_{_ident(lb.name)}_{j}"
        rule = f"{fe.vip} HA ports" if fe.is_ha_ports else f"{fe.vip}:{fe.port}/{fe.protocol}"
        graph.nodes.append(Node(vip_id, (f"VIP {rule}",), "vip"))
        graph.edges.append(Edge("client", vip_id, style="dotted"))
        port = f"port {fe.backend_port}" if fe.backend_port else ""
        graph.edges.append(Edge(vip_id, _lb_id(lb.name), port))
    for backend in lb.backends:
        graph.edges.append(Edge(_lb_id(lb.name), _vm_id(backend), "backend"))
    if lb.mux is not None:
        graph.edges.append(Edge(_lb_id(lb.name), _server_id(lb.mux), "runs on", "dotted"))


def _ident(name: str) -> str:
    """Names are lowercase letters, digits and '-': '_' cannot collide."""
    return name.replace("-", "_")


def _server_id(name: str) -> str:
    return f"server_{_ident(name)}"


def _vm_id(name: str) -> str:
    return f"vm_{_ident(name)}"


def _lb_id(name: str) -> str:
    return f"lb_{_ident(name)}"


# -- Graphviz DOT -------------------------------------------------------------

DOT_SHAPES = {
    "client": 'shape=ellipse, style=filled, fillcolor="#fff2cc"',
    "tor": 'shape=box3d, style=filled, fillcolor="#dae8fc"',
    "compute": 'shape=box, style=filled, fillcolor="#f5f5f5"',
    "mux": 'shape=box, style=filled, fillcolor="#e1d5e7"',
    "vm": 'shape=box, style="rounded,filled", fillcolor="#ffffff"',
    "lb": 'shape=hexagon, style=filled, fillcolor="#e1d5e7"',
    "vip": 'shape=cds, style=filled, fillcolor="#fff2cc"',
}


def _dot_str(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(topo: Topology) -> str:
    graph = build_graph(topo)
    out = [
        f"digraph {_dot_str(topo.name)} {{",
        f"  graph [label={_dot_str(graph.title)}, labelloc=t, fontname=Helvetica, compound=true];",
        "  node [fontname=Helvetica, fontsize=10];",
        "  edge [fontname=Helvetica, fontsize=9];",
    ]
    nodes = {n.id: n for n in graph.nodes}
    grouped = {m for g in graph.groups for m in g.members}
    for node in graph.nodes:
        if node.id not in grouped:
            out.append(f"  {_dot_node(node)}")
    for group in graph.groups:
        out.append(f"  subgraph {_dot_str('cluster_' + group.id)} {{")
        out.append(f"    label={_dot_str(group.label)}; style=rounded; color=gray50;")
        out += [f"    {_dot_node(nodes[m])}" for m in group.members if m in nodes]
        out.append("  }")
    for edge in graph.edges:
        attrs = [f"style={edge.style}"]
        if edge.label:
            attrs.append(f"label={_dot_str(edge.label)}")
        if not edge.directed:
            attrs.append("dir=none")
        out.append(f"  {_dot_str(edge.src)} -> {_dot_str(edge.dst)} [{', '.join(attrs)}];")
    out.append("}")
    return "\n".join(out) + "\n"


def _dot_node(node: Node) -> str:
    return f"{_dot_str(node.id)} [label={_dot_str(chr(10).join(node.lines))}, {DOT_SHAPES[node.kind]}];"


# -- Mermaid ------------------------------------------------------------------

MERMAID_SHAPES = {
    "client": ('(["', '"])'),
    "tor": ('[["', '"]]'),
    "compute": ('["', '"]'),
    "mux": ('[/"', '"/]'),
    "vm": ('("', '")'),
    "lb": ('{{"', '"}}'),
    "vip": ('>"', '"]'),
}
MERMAID_ARROWS = {
    ("solid", True): "-->",
    ("solid", False): "---",
    ("dashed", True): "-.->",
    ("dashed", False): "-.-",
    ("dotted", True): "-.->",
    ("dotted", False): "-.-",
}


def _mermaid_text(text: str) -> str:
    return text.replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


def _mermaid_node(node: Node) -> str:
    start, end = MERMAID_SHAPES[node.kind]
    return f"{node.id}{start}{'<br/>'.join(_mermaid_text(x) for x in node.lines)}{end}"


def to_mermaid(topo: Topology) -> str:
    graph = build_graph(topo)
    out = ["---", f'title: "{_mermaid_text(graph.title)}"', "---", "flowchart TB"]
    nodes = {n.id: n for n in graph.nodes}
    grouped = {m for g in graph.groups for m in g.members}
    out += [f"  {_mermaid_node(n)}" for n in graph.nodes if n.id not in grouped]
    for group in graph.groups:
        out.append(f'  subgraph group_{group.id}["{_mermaid_text(group.label)}"]')
        out += [f"    {_mermaid_node(nodes[m])}" for m in group.members if m in nodes]
        out.append("  end")
    for edge in graph.edges:
        arrow = MERMAID_ARROWS[(edge.style, edge.directed)]
        label = f'|"{_mermaid_text(edge.label)}"|' if edge.label else ""
        out.append(f"  {edge.src} {arrow}{label} {edge.dst}")
    return "\n".join(out) + "\n"


RENDERERS = {"dot": to_dot, "mermaid": to_mermaid}


def render(topo: Topology, fmt: str) -> str:
    """The topology in `fmt` (a key of RENDERERS)."""
    return RENDERERS[fmt](topo)
