"""`lab verify` end to end on the default lab (fabric, storage, LB, RDMA):
clean twice without a flake, the JSON contract, and each injected fault
failing exactly the checks that exist to catch it."""

from __future__ import annotations

import json

import pytest
from fabric.helpers import default_topology_as, lab_cli

from lab.report.history import results_dir

pytestmark = pytest.mark.root
LAB = "vf"


@pytest.fixture(scope="module")
def topo(tmp_path_factory):
    path = default_topology_as(tmp_path_factory.mktemp("vf"), LAB)
    lab_cli("up", str(path), timeout=600)
    yield path
    lab_cli("down", "--lab", LAB, check=False, timeout=600)


def verify(topo, *args: str) -> tuple[int, dict]:
    proc = lab_cli("verify", str(topo), "--format", "json", *args, check=False, timeout=900)
    if proc.returncode not in (0, 1):  # 4: the rig could not measure: say which check
        try:
            unmeasured = [f"{c['name']}: {c['verdict']}: {c['measured']}" for c in json.loads(proc.stdout)["checks"]
                          if c["verdict"] not in ("pass", "fail", "skipped")]
        except (ValueError, KeyError):
            unmeasured = []
        raise AssertionError(f"verify exited {proc.returncode}: {unmeasured or proc.stderr[-3000:]}")
    return proc.returncode, json.loads(proc.stdout)


def failing(report: dict) -> set[str]:
    return {c["name"] for c in report["checks"] if c["verdict"] in ("fail", "error")}


def why(report: dict) -> list[str]:
    return [f"{c['name']}: {c['verdict']}: {c['measured']} | {c['evidence'][-400:]}"
            for c in report["checks"] if c["verdict"] in ("fail", "error")]


@pytest.mark.parametrize("attempt", [1, 2])
def test_clean_lab_passes_all_checks_twice(topo, attempt):
    code, report = verify(topo)
    assert code == 0 and report["passed"] and not failing(report), why(report)
    assert set(report) >= {"passed", "checks"}
    assert all({"name", "group", "target", "measured", "verdict", "evidence"} <= set(c) for c in report["checks"])
    groups = {c["group"] for c in report["checks"]}
    assert groups == {"fabric", "storage", "lb", "rdma", "baseline", "hlh"}
    rdma = next(c for c in report["checks"] if c["group"] == "rdma")
    assert rdma["verdict"] == "skipped" and "no RDMA device" in rdma["measured"]
    assert (results_dir(LAB) / "verify" / "latest.xml").exists()


@pytest.mark.parametrize(("kind", "group", "expected"), [
    ("flooding", "fabric", {"fabric.bridges.no_flooding"}),
    ("cap-removed", "storage", {"storage.red-vm1/data1.randread"}),
])
def test_fault_fails_exactly_its_check(topo, kind, group, expected):
    lab_cli("fault", "inject", kind, str(topo))
    try:
        code, report = verify(topo, "--only", group)
    finally:
        lab_cli("fault", "clear", str(topo))
    assert code == 1 and failing(report) == expected
    code, report = verify(topo, "--only", group)
    assert code == 0, failing(report)


def test_regress_compares_with_the_last_good_run_and_report_renders(topo):
    proc = lab_cli("regress", str(topo), "--only", "fabric", "--format", "json", check=False, timeout=600)
    data = json.loads(proc.stdout)
    assert data["regress"]["baseline_run_id"] is not None
    if proc.returncode == 4:  # RTTs sampled on a busy host are not compared: the rig says so
        unjudged = [c for c in data["regress"]["comparisons"] if c["outcome"] == "not_compared"]
        assert unjudged and all("on a busy host" in c["reason"] for c in unjudged), proc.stdout[-2000:]
        assert data["regress"]["passed"] and data["verify"]["passed"], proc.stdout[-2000:]
    else:
        assert proc.returncode == 0, proc.stdout[-2000:]
    lab_cli("report", str(topo))
    assert (results_dir(LAB) / "report" / "index.html").exists()


def test_unknown_group_and_fault_are_rejected_with_exit_2(topo):
    assert lab_cli("verify", str(topo), "--only", "nope", check=False).returncode == 2
    assert lab_cli("fault", "inject", "nope", str(topo), check=False).returncode == 2
