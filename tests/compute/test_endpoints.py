"""The endpoint interface (lab.compute.endpoints): the plan says what an
endpoint is, the interface picks how to reach it; no root needed."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.compute import endpoints
from lab.model import load_topology
from lab.plan.naming import endpoint_namespace
from lab.plan.planner import build_plan

DEFAULT = Path(__file__).resolve().parents[2] / "topologies" / "embedded.yaml"


@pytest.fixture(scope="module")
def plan():
    return build_plan(load_topology(DEFAULT))


def test_the_plan_answers_which_endpoints_are_vms(plan):
    assert plan.vms() and plan.stand_ins()
    assert {e.name for e in plan.vms()} | {e.name for e in plan.stand_ins()} == {e.name for e in plan.endpoints}
    assert all(e.is_vm and e.namespace is None for e in plan.vms())
    assert all(not e.is_vm and e.namespace for e in plan.stand_ins())
    assert all(e.namespace == endpoint_namespace(plan.lab, e.name) for e in plan.stand_ins())
    server = plan.vms()[0].server
    assert plan.vms(server) == [e for e in plan.vms() if e.server == server]


def test_each_endpoint_of_the_plan_gets_its_kind_of_interface(plan):
    vm, stand_in = plan.vms()[0], plan.stand_ins()[0]
    as_vm = endpoints.endpoint(plan.lab, vm, vm.server_namespace)
    as_netns = endpoints.endpoint(plan.lab, stand_in, stand_in.namespace)
    assert isinstance(as_vm, endpoints.VmEndpoint) and as_vm.is_vm and as_vm.server_namespace == vm.server_namespace
    assert isinstance(as_netns, endpoints.NetnsEndpoint) and not as_netns.is_vm
    assert as_netns.namespace == stand_in.namespace
    with pytest.raises(ValueError, match=stand_in.name):
        endpoints.endpoint(plan.lab, stand_in, None)


def test_a_vm_holds_its_vips_through_its_guest_agent(plan, monkeypatch):
    calls = []
    monkeypatch.setattr(endpoints, "add_vips", lambda *args: calls.append(args))
    vm = plan.vms()[0]
    endpoints.endpoint(plan.lab, vm, None).add_vips(["198.18.100.10"])
    assert [(lab, str(d).endswith(f"labs/{plan.lab}"), name, vips) for lab, d, name, vips in calls] == [
        (plan.lab, True, vm.name, ["198.18.100.10"])]


def test_a_stand_in_whose_namespace_is_gone_says_so(plan):
    stand_in = plan.stand_ins()[0]
    gone = endpoints.NetnsEndpoint("hqnone", stand_in.name, "hqnone.ep.nothere")
    assert gone.missing() == "namespace hqnone.ep.nothere is gone"


def test_a_vm_answers_for_its_lb_vips_as_compute_holds_them(plan, monkeypatch):
    """The LB's host side has nothing to add to or remove from a VM: compute
    puts every planned VIP on its lo (lab.compute.vms.lb_vips); the guest is
    not asked."""
    monkeypatch.setattr(endpoints, "exec_vm", lambda *a, **k: pytest.fail("the guest was asked"))
    monkeypatch.setattr(endpoints, "add_vips", lambda *a, **k: pytest.fail("the guest was asked"))
    vm = endpoints.endpoint(plan.lab, plan.vms()[0], None)
    assert vm.has_lb_vip("192.0.2.10") and not vm.add_lb_vip("192.0.2.10")
    vm.remove_lb_vip("192.0.2.10")


def test_a_gone_stand_in_holds_no_lb_vip_and_removing_one_is_harmless():
    gone = endpoints.NetnsEndpoint("ivnone", "ivnone-ep", "ivnone.ep.nothere")
    assert not gone.has_lb_vip("192.0.2.10")
    gone.remove_lb_vip("192.0.2.10")


@pytest.mark.root
def test_a_stand_in_holds_and_drops_an_lb_vip_on_lo():
    import secrets

    from pyroute2 import IPRoute, netns

    name = f"iv-{secrets.token_hex(3)}"
    netns.create(name)
    try:
        with IPRoute(netns=name) as ipr:  # a stand-in's port: the DSR sysctls set its rp_filter
            ipr.link("add", ifname="eth0", kind="veth", peer="eth0p")
        ep = endpoints.NetnsEndpoint("iv", "ep", name)
        assert not ep.has_lb_vip("192.0.2.10")
        assert ep.add_lb_vip("192.0.2.10") and ep.has_lb_vip("192.0.2.10")
        ep.remove_lb_vip("192.0.2.10")
        ep.remove_lb_vip("192.0.2.10")
        assert not ep.has_lb_vip("192.0.2.10")
    finally:
        netns.remove(name)
