"""Every fabric check passes on a clean lab (twice: no flakes) and fails when
the fault it exists to detect is injected; `up` repairs each fault."""

from __future__ import annotations

import pytest

from lab.model import load_topology
from lab.plan.planner import build_plan
from lab.providers import embedded
from lab.verify.fabric import checks as fc
from lab.verify.fabric.faults import FABRIC_FAULTS

from .helpers import default_topology_as

pytestmark = pytest.mark.root


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    topo = load_topology(default_topology_as(tmp_path_factory.mktemp("ov"), "ov"))
    plan = build_plan(topo)
    embedded.up(plan)
    yield plan, topo.specs
    embedded.down(plan.lab)


def run(check, lab) -> dict[str, str]:
    plan, _ = lab
    return {r.name: r.verdict for r in check(plan)}


@pytest.mark.parametrize("attempt", [1, 2])
def test_clean_lab_passes_every_fabric_check(lab, attempt):
    results = {name: verdict for check in fc.FABRIC_CHECKS for name, verdict in run(check, lab).items()}
    assert results and set(results.values()) == {"pass"}, results
    assert {"fabric.red.isolation", "fabric.blue.vni_on_wire", "fabric.bridges.no_flooding",
            "fabric.underlay.reachability_mtu", "fabric.red.mtu"} <= set(results)


@pytest.fixture
def inject(lab):
    plan, _ = lab

    def _inject(kind: str, **params) -> str:
        return FABRIC_FAULTS[kind](plan, **params)

    yield _inject
    embedded.up(plan)
    assert embedded.up(plan).changes == [], "up did not converge after clearing the fault"


def test_wrong_vni_is_caught_on_the_wire_and_breaks_reachability(lab, inject):
    inject("wrong-vni", server="hv1", tenant="red")
    assert run(fc.check_vni_on_wire, lab) == {"fabric.red.vni_on_wire": "fail", "fabric.blue.vni_on_wire": "pass"}
    assert run(fc.check_tenant_reachability, lab)["fabric.red.reachability"] == "fail"


def test_bridges_of_two_tenants_joined_on_a_server_is_an_isolation_leak(lab, inject):
    inject("tenant-leak", tenant="red")
    assert run(fc.check_isolation, lab)["fabric.red.isolation"] == "fail"


def test_flooding_turned_on_is_caught(lab, inject):
    inject("flooding", server="hv1", tenant="red")
    assert run(fc.check_no_flooding, lab) == {"fabric.bridges.no_flooding": "fail"}


def test_learning_on_with_a_missing_fdb_entry_breaks_reachability(lab, inject):
    inject("fdb-missing", server="hv1", tenant="red")
    verdicts = run(fc.check_tenant_reachability, lab)
    assert verdicts == {"fabric.red.reachability": "fail", "fabric.blue.reachability": "pass"}


def test_lowered_underlay_mtu_is_caught(lab, inject):
    inject("mtu-lowered", server="hv2")
    assert run(fc.check_tenant_mtu, lab)["fabric.red.mtu"] == "fail"
    assert run(fc.check_underlay, lab) == {"fabric.underlay.reachability_mtu": "fail"}


def test_tenant_reaches_the_client_through_its_gateway_with_snat(lab):
    from lab.apply.nsexec import run_collector

    plan, _ = lab
    results = run_collector(plan.host("ep.blue-web2").namespace, "reach", plan.client_address,
                            "--timeout", "0.5")["results"]
    assert results[0]["reachable"]


def test_exporter_fabric_collector_reports_every_planned_interface(lab):
    from pathlib import Path

    from lab.report.collectors.fabric import fabric_collector

    plan, _ = lab
    families = {f.name: f for f in fabric_collector(Path("/nonexistent"), plan.lab).collect()}
    samples = families["stacklab_fabric_receive_packets"].samples
    rx = {(s.labels["server"], s.labels["interface"]) for s in samples}
    assert {("hv1", "vx1001"), ("hv2", "vx1002"), ("tor", "underlay")} <= rx
    entries = families["stacklab_fabric_vxlan_fdb_entries"].samples
    fdb = {(s.labels["server"], s.labels["vni"]): s.value for s in entries}
    assert fdb[("hv1", "1001")] == len([f for f in plan.host("hv1").fdb if f.ifname == "vx1001"])
