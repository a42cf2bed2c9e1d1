"""Golden plans (netlab-style): the whole plan of each example topology is
kept in tests/plan/golden/<topology>.json, so any change to what a topology
turns into shows up as a reviewed diff. Regenerate with `make golden`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lab.model import load_topology
from lab.plan.planner import build_plan
from tests.fabric.helpers import ROOT
from tests.plan.golden_files import assert_matches_golden

GOLDEN = Path(__file__).parent / "golden"
TOPOLOGIES = sorted((ROOT / "topologies").glob("*.yaml"))


def render(topology: Path) -> str:
    return json.dumps(build_plan(load_topology(topology)).model_dump(mode="json"), indent=1,
                      sort_keys=True) + "\n"


@pytest.mark.parametrize("topology", TOPOLOGIES, ids=lambda p: p.stem)
def test_plan_matches_its_golden_file(topology):
    assert_matches_golden(GOLDEN / f"{topology.stem}.json", render(topology), f"plan of {topology.name}")


def test_every_golden_file_has_its_topology():
    assert {p.stem for p in GOLDEN.glob("*.json")} == {p.stem for p in TOPOLOGIES}
