"""The LB part of the plan: per-MUX datapaths, each VIP routed to its own
MUX, port remaps as host-agent rules on the backends' servers, the specs."""

from __future__ import annotations

import pytest

from lab.model import load_topology
from lab.plan.lb_model import check_vip
from lab.plan.planner import build_plan
from tests.fabric.helpers import ROOT

TWO_MUX = ROOT / "topologies" / "two-mux.yaml"


@pytest.fixture(scope="module")
def plan():
    return build_plan(load_topology(TWO_MUX))


def test_each_mux_gets_the_lbs_that_name_it(plan):
    assert {m.name: [lb.name for lb in m.lbs] for m in plan.muxes} == {
        "mux1": ["web", "nva1"], "mux2": ["api", "nva2"]}


def _static(topo):
    return topo.model_copy(update={"tor": topo.tor.model_copy(update={"routing": "static"})})


def test_with_static_routing_the_tor_routes_each_vip_to_the_mux_of_its_lb():
    plan = build_plan(_static(load_topology(TWO_MUX)))
    tor = next(h for h in plan.hosts if h.role == "tor")
    routes = {r.dst: r.via for r in tor.routes}
    mux1, mux2 = plan.host("mux1").underlay_ip, plan.host("mux2").underlay_ip
    assert routes["192.0.2.10/32"] == routes["192.0.2.11/32"] == mux1
    assert routes["192.0.2.20/32"] == routes["192.0.2.21/32"] == mux2
    assert routes["192.0.2.0/24"] == mux1  # run-time VIPs: the pool MUX
    assert [m.pool_routed for m in plan.muxes] == [True, False]


def test_with_bgp_every_mux_is_a_neighbour_with_bfd_and_no_vip_route_is_static(plan):
    tor = next(h for h in plan.hosts if h.role == "tor")
    assert not [r for r in tor.routes if r.dst.startswith("192.0.2.")]
    assert plan.bgp is not None
    assert [(n.name, n.address) for n in plan.bgp.neighbors] == [
        (m, plan.host(m).underlay_ip) for m in ("mux1", "mux2")]
    assert (plan.bgp.asn, plan.bgp.maximum_paths, plan.bgp.bfd.interval_ms, plan.bgp.bfd.multiplier) == (
        65000, 16, 100, 3)
    for mux in plan.muxes:
        assert mux.bgp is not None and mux.pool_routed
        assert (mux.bgp.asn, mux.bgp.peer, mux.bgp.peer_asn) == (65100, plan.tor_underlay_ip, 65000)


def test_bfd_timers_and_asns_come_from_the_topology():
    topo = load_topology(TWO_MUX)
    topo = topo.model_copy(update={"tor": topo.tor.model_copy(update={
        "bfd_interval_ms": 300, "bfd_multiplier": 5, "mux_asn": 4200000001, "maximum_paths": 4})})
    plan = build_plan(topo)
    assert (plan.bgp.bfd.interval_ms, plan.bgp.bfd.multiplier, plan.bgp.maximum_paths) == (300, 5, 4)
    assert plan.bgp.bfd.detect_s == 1.5
    assert {m.bgp.asn for m in plan.muxes} == {4200000001}


def test_an_lb_on_several_muxes_is_planned_identically_on_each():
    plan = build_plan(load_topology(ROOT / "topologies" / "mux-pool.yaml"))
    assert [m.name for m in plan.muxes] == ["mux1", "mux2"]
    assert plan.mux("mux1").lbs == plan.mux("mux2").lbs  # same backends, same ring input
    assert [h.port_maps for h in plan.hosts if h.port_maps] == []


def test_rules_carry_protocol_numbers_and_backend_ports(plan):
    api = plan.mux("mux2").lb("api")
    assert [(f.port, f.proto, f.backend_port, f.listen_port) for f in api.frontends] == [
        (443, 6, None, 443), (53, 17, 5353, 5353)]
    assert plan.mux("mux2").lb("nva2").frontends[0].proto == 0


def test_backends_name_their_server_mac_and_namespace(plan):
    web = plan.mux("mux1").lb("web")
    b = web.backends[0]
    ep = plan.endpoint(b.name)
    assert (b.server, b.server_namespace, b.namespace, b.vm) == (ep.server, ep.server_namespace,
                                                                 ep.namespace, None)
    assert b.server_mac == next(link.mac for link in plan.host(ep.server).links if link.name == "eth0")


def test_a_remapped_rule_becomes_a_port_map_on_every_backend_server(plan):
    maps = {h.name: [(p.vip, p.protocol, p.port, p.backend_port) for p in h.port_maps]
            for h in plan.hosts if h.port_maps}
    assert maps == {
        "hv1": [("192.0.2.10", "tcp", 80, 8080)],
        "hv2": [("192.0.2.10", "tcp", 80, 8080), ("192.0.2.20", "udp", 53, 5353)],
        "hv3": [("192.0.2.10", "tcp", 80, 8080), ("192.0.2.20", "udp", 53, 5353)],
    }


def test_a_run_time_vip_on_a_non_pool_mux_is_refused_with_the_fix():
    plan = build_plan(_static(load_topology(TWO_MUX)))
    check_vip(plan.mux("mux1"), "192.0.2.99")  # the pool MUX takes any pool address
    check_vip(plan.mux("mux2"), "192.0.2.20")
    with pytest.raises(ValueError, match="does not route VIP 192.0.2.99 to mux2.*mux: mux2"):
        check_vip(plan.mux("mux2"), "192.0.2.99")


def test_with_bgp_any_mux_takes_a_run_time_vip_in_the_pool(plan):
    check_vip(plan.mux("mux2"), "192.0.2.99")  # it announces what it serves
    with pytest.raises(ValueError, match="outside the VIP pool"):
        check_vip(plan.mux("mux2"), "198.51.100.99")


def test_endpoints_and_disks_are_named_once_in_the_plan():
    plan = build_plan(load_topology(ROOT / "topologies" / "storage-tiers.yaml"))
    db2 = plan.endpoint("db2")
    assert [(d.name, d.dev, d.path, d.iops_cap) for d in db2.data_disks] == [
        ("data", "vdb", "compute/db2/data-data.qcow2", 500),
        ("scratch", "vdc", "compute/db2/data-scratch.qcow2", 500)]
    assert db2.namespace is None
    netns = build_plan(load_topology(TWO_MUX)).endpoint("web1")
    assert netns.namespace == "twomux.ep.web1" and plan.specs.iops_tolerance_pct == 10
