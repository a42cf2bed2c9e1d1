"""Mirrored disks in the plan (pure): three legs on three compute servers of
the VM's cluster, the VM's own server first, spread over a larger cluster,
and a quorum socket the VM's disk opens; placement refused where a cluster
cannot hold three legs."""

from __future__ import annotations

import pytest

from lab.model import TopologyError, load_topology, parse_topology
from lab.model.topology import Topology
from lab.plan.disks import NBD_PORT, VOTE_THRESHOLD
from lab.plan.planner import build_plan
from tests.fabric.helpers import ROOT


def _topology(servers: list[dict], vms: list[dict]) -> Topology:
    return Topology.model_validate({
        "name": "mirt", "servers": servers,
        "tenants": [{"name": "red", "vni": 7, "subnets": [{"name": "a", "prefix": "100.64.7.0/24"}]}],
        "vms": vms})


def _vm(name: str, server: str = "auto", resiliency: str = "mirror3") -> dict:
    return {"name": name, "tenant": "red", "server": server, "size": "Standard_DS2_v2",
            "data_disks": [{"name": "data", "resiliency": resiliency}, {"name": "log"}]}


def test_example_mirror_has_three_legs_on_three_servers_with_the_tier_cap():
    plan = build_plan(load_topology(ROOT / "topologies" / "storage-mirror.yaml"))
    vm = plan.endpoint("db1")
    data, log = vm.data_disks
    assert data.resiliency == "mirror3" and data.iops_cap == 500 and data.vote_threshold == VOTE_THRESHOLD == 2
    assert [leg.server for leg in data.legs] == ["hv1", "hv2", "hv3"]
    assert [leg.address for leg in data.legs] == [plan.host(s).underlay_ip for s in ("hv1", "hv2", "hv3")]
    assert {leg.port for leg in data.legs} == {NBD_PORT} and {leg.export for leg in data.legs} == {"db1/data"}
    assert len({leg.node for leg in data.legs}) == 3 and all(len(leg.node) <= 31 for leg in data.legs)
    assert [leg.path for leg in data.legs] == [f"compute/storage/{s}/db1/data.raw" for s in ("hv1", "hv2", "hv3")]
    assert data.quorum_socket == "compute/mirror/db1/data.sock" and data.path == ""
    assert log.resiliency == "simple" and not log.legs and log.path == "compute/db1/data-log.qcow2"


def test_legs_spread_over_a_larger_cluster_and_start_on_the_vms_server():
    servers = [{"name": f"hv{i}"} for i in range(1, 6)]
    plan = build_plan(_topology(servers, [_vm("a", "hv1"), _vm("b", "hv1"), _vm("c", "hv4")]))
    legs = {vm: [leg.server for leg in plan.endpoint(vm).data_disks[0].legs] for vm in ("a", "b", "c")}
    assert legs == {"a": ["hv1", "hv2", "hv3"], "b": ["hv1", "hv4", "hv5"], "c": ["hv4", "hv2", "hv3"]}
    assert all(len(set(servers)) == 3 for servers in legs.values())


def test_auto_vm_with_a_mirror_goes_to_a_cluster_that_can_hold_it():
    servers = [{"name": "small1", "cluster": "small"}, {"name": "small2", "cluster": "small"},
               {"name": "big1", "cluster": "big"}, {"name": "big2", "cluster": "big"},
               {"name": "big3", "cluster": "big"}]
    plan = build_plan(_topology(servers, [_vm("a"), _vm("b", resiliency="simple"), _vm("c")]))
    assert plan.endpoint("a").server.startswith("big") and plan.endpoint("c").server.startswith("big")
    assert {leg.server for leg in plan.endpoint("a").data_disks[0].legs} == {"big1", "big2", "big3"}


@pytest.mark.parametrize(("servers", "vm", "fragment"), [
    ([{"name": "hv1"}, {"name": "hv2"}], "server: hv1", "cluster 's2d' of its server 'hv1' has 2 compute server(s)"),
    ([{"name": "hv1"}, {"name": "hv2"}, {"name": "mux1", "role": "mux"}], "server: auto",
     "no cluster has 3 compute servers"),
])
def test_a_cluster_without_three_compute_servers_is_a_placement_error_naming_the_field(servers, vm, fragment):
    lines = "".join(f"  - {{name: {s['name']}, role: {s.get('role', 'compute')}}}\n" for s in servers)
    text = (f"name: mirt\nservers:\n{lines}tenants:\n  - {{name: red, vni: 7, subnets: [{{name: a, prefix: "
            f"100.64.7.0/24}}]}}\nvms:\n  - {{name: a, tenant: red, {vm}, data_disks: [{{name: data, "
            f"resiliency: mirror3}}]}}\n")
    with pytest.raises(TopologyError) as err:
        parse_topology(text)
    problem = err.value.issues[0]
    assert problem.path == "vms[0].data_disks[0].resiliency"
    assert fragment in problem.message and "resiliency: simple" in problem.message
