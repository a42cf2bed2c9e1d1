"""Golden inventories: the generated Ansible inventory of each example
topology is kept in tests/ansible/golden/<topology>.yml (all of it but
`lab_plan`, which is the plan itself and kept in tests/plan/golden), so a
change to what real hosts are told shows up as a reviewed diff. The inventory
is a function of the plan alone: it is built here from a plan read back from
its JSON, with no topology at hand. Regenerate with `make golden`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from lab.model import load_topology, parse_topology
from lab.plan.model import Plan
from lab.plan.planner import build_plan
from lab.providers.ansible.inventory import build_inventory, host_problems
from tests.fabric.helpers import ROOT
from tests.plan.golden_files import assert_matches_golden

GOLDEN = Path(__file__).parent / "golden"
TOPOLOGIES = sorted((ROOT / "topologies").glob("*.yaml"))


def _plan_from_json(topology: Path) -> Plan:
    """The plan as a host or `lab apply-host` gets it: JSON, no topology."""
    text = json.dumps(build_plan(load_topology(topology)).model_dump(mode="json"))
    return Plan.model_validate(json.loads(text))


@pytest.mark.parametrize("topology", TOPOLOGIES, ids=lambda p: p.stem)
def test_inventory_from_the_plan_alone_matches_its_golden_file(topology):
    plan = _plan_from_json(topology)
    inventory = build_inventory(plan)
    assert inventory["all"]["vars"].pop("lab_plan") == plan.model_dump(mode="json")
    assert_matches_golden(GOLDEN / f"{topology.stem}.yml", yaml.safe_dump(inventory, sort_keys=False),
                          f"inventory of {topology.name}")


def test_every_golden_inventory_has_its_topology():
    assert {p.stem for p in GOLDEN.glob("*.yml")} == {p.stem for p in TOPOLOGIES}


def test_the_tor_values_reach_the_inventory_without_a_mux():
    """asn, maximum-paths and BFD are the real ToR's FRR settings even in a
    lab whose plan has no BGP to MUXes (no MUX: plan.bgp is None)."""
    text = (ROOT / "topologies" / "minimal.yaml").read_text()
    data = yaml.safe_load(text)
    assert not any(s.get("role") == "mux" for s in data["servers"])
    data["tor"] = {**data.get("tor", {}), "asn": 65010, "maximum_paths": 4, "bfd_interval_ms": 300,
                   "bfd_multiplier": 5}
    plan = build_plan(parse_topology(yaml.safe_dump(data)))
    assert plan.bgp is None
    tor = build_inventory(plan)["all"]["children"]["tor"]["hosts"][plan.tor.name]
    assert (tor["lab_tor_asn"], tor["lab_tor_maximum_paths"]) == (65010, 4)
    assert (tor["lab_tor_bfd_interval_ms"], tor["lab_tor_bfd_multiplier"]) == (300, 5)


def test_host_problems_come_from_the_plans_names():
    plan = _plan_from_json(ROOT / "topologies" / "minimal.yaml")
    servers = {s.name for s in plan.servers()}
    assert host_problems(plan, {plan.tor.name, *servers}) == []
    problems = host_problems(plan, {plan.tor.name, "stray"})
    assert any("'stray' is not a server" in p for p in problems)
    assert sum("has no host in the inventory" in p for p in problems) == len(servers)
