"""`lab graph`: DOT that Graphviz accepts, Mermaid that is well formed, and
the picture holds what the topology says."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess

import pytest
from typer.testing import CliRunner

from lab.cli import app
from lab.graph import render
from lab.model import parse_topology

from .helpers import EMBEDDED, default_text, mutate

runner = CliRunner()

LB_TEXT, _ = mutate(
    "specs:",
    "load_balancers:\n"
    "  - {name: web, tenant: red, mux: mux1, backends: [red-web1, red-web2],\n"
    "     frontends: [{vip: 192.0.2.10, port: 80, backend_port: 8080}, {vip: 192.0.2.10, port: 443}]}\n"
    "  - {name: all-ports, tenant: blue, backends: [blue-web1],\n"
    "     frontends: [{vip: 192.0.2.20, port: 0, protocol: all}]}\n"
    "specs:",
)


def _graphviz(fmt: str, dot_text: str) -> str:
    """Run the real `dot`; it exits non-zero on a syntax error."""
    if shutil.which("dot") is None:
        if os.environ.get("CI") or os.geteuid() == 0:
            pytest.fail("graphviz `dot` is missing (scripts/install-deps.sh installs it)")
        pytest.skip("graphviz `dot` is not installed and not root/CI")
    done = subprocess.run(["dot", f"-T{fmt}"], input=dot_text, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "Error" not in done.stderr and "Warning" not in done.stderr, done.stderr
    return done.stdout


def test_default_topology_dot_is_valid_graphviz():
    svg = html.unescape(_graphviz("svg", render(parse_topology(default_text()), "dot")))
    assert "<svg" in svg
    for name in ("hv1", "hv4", "mux1", "red-web1", "blue-web2", "ToR tor"):
        assert name in svg


def _layout(text: str) -> tuple[dict[int, dict], list[tuple[str, str]]]:
    """Graphviz's own parse of the DOT: objects by id and edges as name pairs."""
    doc = json.loads(_graphviz("json", render(parse_topology(text), "dot")))
    objects = {o["_gvid"]: o for o in doc["objects"]}
    edges = [(objects[e["tail"]]["name"], objects[e["head"]]["name"]) for e in doc["edges"]]
    return objects, edges


def test_dot_places_vms_in_tenant_clusters_on_their_servers():
    objects, edges = _layout(default_text())
    clusters = {o["name"]: o for o in objects.values() if o["name"].startswith("cluster_")}
    red = {objects[n]["name"] for n in clusters["cluster_tenant_red"]["nodes"]}
    assert red == {"vm_red_web1", "vm_red_web2", "vm_red_db1"}
    assert ("vm_blue_web2", "server_hv4") in edges
    assert ("vm_red_db1", "server_hv3") in edges
    assert {("tor", f"server_{s}") for s in ("hv1", "hv2", "hv3", "hv4", "mux1")} <= set(edges)
    labels = {o["name"]: o.get("label", "") for o in objects.values()}
    assert "RDMA" in labels["server_hv1"] and "RDMA" not in labels["server_mux1"]


def test_dot_draws_vips_to_load_balancers_to_backends():
    objects, edges = _layout(LB_TEXT)
    labels = {o["name"]: o.get("label", "") for o in objects.values()}
    assert labels["vip_web_0"] == "VIP 192.0.2.10:80/tcp"
    assert labels["vip_all_ports_0"] == "VIP 192.0.2.20 HA ports"
    assert {("vip_web_0", "lb_web"), ("vip_web_1", "lb_web"), ("vip_all_ports_0", "lb_all_ports")} <= set(edges)
    assert {("lb_web", "vm_red_web1"), ("lb_web", "vm_red_web2"), ("lb_all_ports", "vm_blue_web1")} <= set(edges)
    assert ("lb_web", "server_mux1") in edges


def test_underlay_address_and_auto_placement_are_shown():
    text, _ = mutate("{name: hv1, role", "{name: hv1, address: 198.18.0.21, role")
    text, _ = mutate("server: hv3, ", "", text)
    objects, edges = _layout(text)
    labels = {o["name"]: o.get("label", "") for o in objects.values()}
    assert "198.18.0.21" in labels["server_hv1"]
    assert "placement auto" in labels["vm_red_db1"]
    assert not [e for e in edges if e[0] == "vm_red_db1"]


MERMAID_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def test_mermaid_is_well_formed():
    text = render(parse_topology(LB_TEXT), "mermaid")
    lines = text.splitlines()
    assert lines[:4] == ["---", lines[1], "---", "flowchart TB"]
    declared, used, depth = set(), set(), 0
    for line in (x.strip() for x in lines[4:]):
        if line.startswith("subgraph "):
            depth += 1
        elif line == "end":
            depth -= 1
        elif " --" in line or " -." in line:
            src, *_, dst = line.split()
            used |= {src, dst}
        else:
            node_id = re.match(r"^(\w+)", line).group(1)
            declared.add(node_id)
            label = line[len(node_id) :]
            assert label.count('"') == 2, line  # quotes in labels are escaped
        assert depth >= 0
    assert depth == 0
    assert used <= declared
    assert all(MERMAID_ID.match(i) for i in declared)
    assert {"vip_web_0", "lb_web", "vm_red_web1", "server_mux1", "client", "tor"} <= declared


def test_graph_cli_prints_dot_by_default():
    result = runner.invoke(app, ["graph", str(EMBEDDED)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith('digraph "demo" {')


def test_graph_cli_writes_the_format_its_suffix_names(tmp_path):
    out = tmp_path / "lab.mmd"
    result = runner.invoke(app, ["graph", str(EMBEDDED), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "flowchart TB" in out.read_text()
    result = runner.invoke(app, ["graph", str(EMBEDDED), "--format", "dot", "-o", str(out)])
    assert out.read_text().startswith("digraph")


def test_graph_cli_refuses_bad_format():
    result = runner.invoke(app, ["graph", str(EMBEDDED), "--format", "jpeg"])
    assert result.exit_code == 2
    assert "dot, mermaid, png, svg" in " ".join(result.output.split())


def _needs_dot() -> None:
    _graphviz("svg", "digraph g {}")


def test_graph_cli_renders_png_by_extension(tmp_path):
    _needs_dot()
    out = tmp_path / "lab.png"
    result = runner.invoke(app, ["graph", str(EMBEDDED), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_graph_cli_renders_svg_by_extension_with_the_topology_in_it(tmp_path):
    _needs_dot()
    out = tmp_path / "lab.svg"
    result = runner.invoke(app, ["graph", str(EMBEDDED), "-o", str(out)])
    assert result.exit_code == 0, result.output
    svg = html.unescape(out.read_text())
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    for name in ("hv1", "mux1", "red-web1"):
        assert name in svg


def test_graph_cli_dot_suffix_writes_dot_text(tmp_path):
    out = tmp_path / "lab.dot"
    result = runner.invoke(app, ["graph", str(EMBEDDED), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text().startswith('digraph "demo" {')


def test_graph_png_without_graphviz_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH with no `dot` on it
    out = tmp_path / "lab.png"
    result = runner.invoke(app, ["graph", str(EMBEDDED), "-o", str(out)])
    assert result.exit_code == 1
    assert "install-deps.sh" in " ".join(result.output.split())
    assert not out.exists()


def test_graph_of_invalid_topology_exits_2_and_writes_nothing(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(mutate("vni: 1002", "vni: 1001")[0])
    out = tmp_path / "lab.dot"
    result = runner.invoke(app, ["graph", str(bad), "-o", str(out)])
    assert result.exit_code == 2
    assert "duplicate VNI 1001" in " ".join(result.output.split())
    assert not out.exists()
