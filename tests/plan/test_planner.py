"""The planner is pure: same topology, same plan; no root, no I/O."""

from __future__ import annotations

import ipaddress
import json

from typer.testing import CliRunner

from lab.cli import app
from lab.model import load_topology
from lab.plan.naming import IFNAME_MAX
from lab.plan.planner import build_plan
from lab.providers.bench import generated_topology
from tests.fabric.helpers import DEFAULT


def plan_default():
    return build_plan(load_topology(DEFAULT))


def test_plan_is_deterministic():
    assert plan_default().model_dump() == plan_default().model_dump()


def test_every_namespace_carries_the_lab_prefix_and_names_fit_the_kernel():
    plan = build_plan(generated_topology(40))
    assert all(h.namespace.startswith(f"{plan.lab}.") for h in plan.hosts)
    assert len({h.namespace for h in plan.hosts}) == len(plan.hosts)
    names = [link.name for h in plan.hosts for link in h.links] + [e.port for e in plan.endpoints]
    assert all(len(n) <= IFNAME_MAX for n in names)


def test_servers_get_underlay_addresses_from_dot_11_in_order():
    plan = plan_default()
    assert [plan.host(s).underlay_ip for s in ("hv1", "hv2", "hv3", "hv4", "mux1")] == [
        "198.18.0.11", "198.18.0.12", "198.18.0.13", "198.18.0.14", "198.18.0.15"]
    assert plan.tor_underlay_ip == "198.18.0.1"


def test_overlapping_tenants_get_separate_bridges_and_vnis_on_a_shared_server():
    hv2 = plan_default().host("hv2")
    vxlans = {link.name: link.vxlan.vni for link in hv2.links if link.kind == "vxlan"}
    assert vxlans == {"vx1001": 1001, "vx1002": 1002}
    for link in hv2.links:
        if link.kind == "vxlan":
            assert (link.learning, link.flood, link.neigh_suppress) == (False, False, True)


def test_each_vtep_knows_every_remote_member_of_its_tenants_and_no_local_or_foreign_one():
    plan = plan_default()
    hv1 = plan.host("hv1")
    remote_red = {e.mac for e in plan.endpoints if e.tenant == "red" and e.server != "hv1"}
    remote_red.add(plan.tenant("red").gateway_mac)
    assert {f.mac for f in hv1.fdb if f.ifname == "vx1001"} == remote_red
    remote_blue = {e.mac for e in plan.endpoints if e.tenant == "blue" and e.server != "hv1"}
    remote_blue.add(plan.tenant("blue").gateway_mac)
    assert {f.mac for f in hv1.fdb if f.ifname == "vx1002"} == remote_blue
    red_web2 = plan.endpoint("red-web2")
    assert any(f.mac == red_web2.mac and f.dst == "198.18.0.12" for f in hv1.fdb)
    neigh = {(n.ip, n.mac) for n in hv1.neighbours}
    assert ("100.64.1.11", red_web2.mac) in neigh
    assert ("100.64.1.1", plan.tenant("red").gateway_mac) in neigh


def test_tenant_gateway_holds_dot_one_of_each_subnet_and_snats_outbound():
    gw = plan_default().host("gw.red")
    assert {a.cidr for a in gw.addresses if a.ifname == "br1001"} == {"100.64.1.1/24", "100.64.2.1/24"}
    assert gw.snat[0].sources == ["100.64.1.0/24", "100.64.2.0/24"]
    assert gw.sysctls["net.ipv4.ip_forward"] == "1"


def test_tor_learns_the_vips_over_bgp_and_hashes_ecmp_by_l4_ports():
    plan = plan_default()
    tor = plan.host("tor")
    assert not [r for r in tor.routes if r.dst.startswith("192.0.2.")]  # no static VIP route
    assert tor.sysctls["net.ipv4.fib_multipath_hash_policy"] == "1"
    assert plan.bgp is not None and [n.name for n in plan.bgp.neighbors] == ["mux1"]


def test_static_routing_routes_the_vip_pool_and_each_vip_to_the_mux():
    topo = load_topology(DEFAULT)
    topo = topo.model_copy(update={"tor": topo.tor.model_copy(update={"routing": "static"})})
    plan = build_plan(topo)
    tor = plan.host("tor")
    mux = plan.host("mux1").underlay_ip
    assert {(r.dst, r.via) for r in tor.routes} == {
        ("192.0.2.0/24", mux), ("192.0.2.10/32", mux), ("192.0.2.20/32", mux)}
    assert plan.bgp is None and plan.muxes[0].bgp is None
    assert "net.ipv4.fib_multipath_hash_policy" not in tor.sysctls


def test_auto_placement_and_addresses():
    topo = load_topology(DEFAULT).model_copy(deep=True)
    data = topo.model_dump(mode="json")
    data["vms"] = [{"name": f"v{i}", "tenant": "blue", "kind": "netns"} for i in range(6)]
    data["load_balancers"] = []  # their backends were the VMs replaced here
    from lab.model.topology import Topology

    plan = build_plan(Topology.model_validate(data))
    servers = [e.server for e in plan.endpoints]
    assert sorted(servers) == ["hv1", "hv1", "hv2", "hv2", "hv3", "hv4"]
    addresses = [ipaddress.ip_address(e.address) for e in plan.endpoints]
    assert len(set(addresses)) == 6 and min(addresses) == ipaddress.ip_address("100.64.1.4")


def test_lab_plan_cli_prints_json_and_yaml():
    runner = CliRunner()
    result = runner.invoke(app, ["plan", str(DEFAULT), "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    # every namespace stand-in is a host; VMs are endpoints on their server's bridge
    netns_endpoints = [e for e in data["endpoints"] if e["kind"] == "netns"]
    assert data["lab"] == "demo" and len(data["hosts"]) == 9 + len(netns_endpoints)
    assert {e["kind"] for e in data["endpoints"]} == {"netns", "vm"}
    result = runner.invoke(app, ["plan", str(DEFAULT)])
    assert result.exit_code == 0 and "hosts:" in result.output


def test_lab_plan_rejects_unknown_format_with_exit_2():
    result = CliRunner().invoke(app, ["plan", str(DEFAULT), "--format", "xml"])
    assert result.exit_code == 2


def test_default_topology_is_the_lab_the_issues_ask_for():
    topo = load_topology(DEFAULT)
    computes = [s for s in topo.servers if s.role == "compute"]
    assert len(computes) >= 4 and [s.role for s in topo.servers].count("mux") == 1
    red, blue = (t.subnets[0].prefix for t in topo.tenants)
    assert red.overlaps(blue) and red.subnet_of(ipaddress.ip_network("100.64.0.0/10"))
    for tenant in ("red", "blue"):
        for kind in ("netns", "vm"):
            servers = {v.server for v in topo.vms if v.tenant == tenant and v.kind == kind}
            assert len(servers) >= 2, (tenant, kind)
    tiers = [d.tier for v in topo.vms for d in v.data_disks]
    assert tiers.count("standard") >= 2 and "premium" in tiers
    assert any(fe.is_ha_ports for lb in topo.load_balancers for fe in lb.frontends)
