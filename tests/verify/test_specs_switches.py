"""specs.isolation / specs.no_flooding: false switches those checks off, and
the run says so in words (verdict skipped, JUnit <skipped message>); every
other check is still planned. No lab needed: a switched-off check measures
nothing, so it must not touch one."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from rich.console import Console

from lab.model import load_topology
from lab.model.topology import Topology
from lab.plan.planner import build_plan
from lab.report.junit import write_junit
from lab.verify.catalog import checks_for
from lab.verify.runner import check_identity, run_checks
from tests.fabric.helpers import ROOT

OPTIONAL_NAMES = ("fabric.all_tenants.isolation", "fabric.bridges.no_flooding")


def _plan(**specs: bool):
    data = load_topology(ROOT / "topologies" / "three-tenants.yaml").model_dump(mode="json")
    data["specs"].update(specs)
    return build_plan(Topology.model_validate(data))


def test_switched_off_checks_are_reported_as_not_run(tmp_path):
    plan = _plan(isolation=False, no_flooding=False)
    switched = [c for c in checks_for(plan) if check_identity(c)[0] in OPTIONAL_NAMES]
    assert len(switched) == 2
    run = run_checks(switched, plan.lab, "h", {}, console=Console(file=open("/dev/null", "w")))
    assert {(r.name, r.verdict, r.measured) for r in run.results} == {
        ("fabric.all_tenants.isolation", "skipped", "not run: specs.isolation is false in the topology"),
        ("fabric.bridges.no_flooding", "skipped", "not run: specs.no_flooding is false in the topology")}
    junit = ET.parse(write_junit(run.results, tmp_path / "j.xml", suite=plan.lab)).getroot()
    messages = {s.get("message") for s in junit.iter("skipped")}
    assert "not run: specs.isolation is false in the topology" in messages


def test_by_default_every_fabric_check_is_planned_to_run():
    on = {check_identity(c)[0]: c for c in checks_for(_plan())}
    off = {check_identity(c)[0]: c for c in checks_for(_plan(isolation=False))}
    assert set(on) == set(off) >= {*OPTIONAL_NAMES, "fabric.all_tenants.reachability"}
    assert on["fabric.all_tenants.isolation"].func.__name__ == "check_isolation"
    assert off["fabric.all_tenants.isolation"].func.__name__ == "_not_run"
