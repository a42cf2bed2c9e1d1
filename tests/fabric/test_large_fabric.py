"""The large example topology (topologies/large.yaml: 32 servers in three
clusters, two MUXes, three tenants) brought up for real: every host is
healthy, the fabric checks pass at that size, a second `up` changes
nothing, and `down` leaves no namespace behind."""

from __future__ import annotations

import json

import pytest

from lab.apply.netns import list_namespaces
from lab.model import load_topology
from tests.fabric.helpers import ROOT, lab_cli

LARGE = ROOT / "topologies" / "large.yaml"
LAB = load_topology(LARGE).name
pytestmark = pytest.mark.root


@pytest.fixture(scope="module")
def lab():
    lab_cli("down", "--lab", LAB, check=False, timeout=600)
    lab_cli("up", str(LARGE), timeout=900)
    try:
        yield LARGE
    finally:
        lab_cli("down", "--lab", LAB, check=False, timeout=600)
        assert not [ns for ns in list_namespaces() if ns.startswith(f"{LAB}.")]


def test_every_host_of_the_large_lab_is_up_and_a_second_up_changes_nothing(lab):
    status = json.loads(lab_cli("status", str(lab), "--format", "json", timeout=300).stdout)
    hosts = status["servers"] + status["fabric"]
    assert len([h for h in hosts if h["role"] == "compute"]) == 32
    assert {h["health"] for h in hosts} == {"ok"}, [h for h in hosts if h["health"] != "ok"]
    again = json.loads(lab_cli("up", str(lab), "--format", "json", timeout=900).stdout)
    assert again["changes"] == [], again["changes"][:5]


def test_fabric_checks_pass_at_32_servers(lab):
    proc = lab_cli("verify", str(lab), "--only", "fabric", "--format", "json", check=False, timeout=900)
    report = json.loads(proc.stdout)
    failed = {c["name"]: c["measured"] for c in report["checks"] if c["verdict"] not in ("pass", "skipped")}
    assert proc.returncode == 0 and not failed, failed
