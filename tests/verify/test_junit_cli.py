"""`lab verify|regress --junit PATH`: JUnit for CI systems, valid against the
Jenkins xunit plugin's JUnit schema (tests/report/junit.xsd), with the rig's
properties, regressions as cases of their own and skip reasons in words."""

from __future__ import annotations

import json
import platform
import xml.etree.ElementTree as ET
from importlib.metadata import version
from pathlib import Path

import pytest
import xmlschema

from lab.model import load_topology
from lab.paths import results_dir
from lab.plan.planner import build_plan
from lab.report.history import History, RunRecord
from lab.report.verification import plan_hash
from lab.verify.result import CheckResult
from lab.verify.runner import named_check

from .cli_support import check, invoke, mark_up, tiny_topology

SCHEMA = xmlschema.XMLSchema(Path(__file__).parents[1] / "report" / "junit.xsd")
STEADY = [5400.0, 5410.0, 5390.0, 5405.0, 5395.0, 5401.0, 5398.0, 5403.0]


def _rdma_skipped() -> CheckResult:
    """As the RDMA check reports a lab without RDMA NICs: the collector's JSON as evidence."""
    return CheckResult("rdma.nics.perftest", "rdma", "RoCEv2 write bandwidth", "skipped: no RDMA device",
                       "skipped", evidence=json.dumps({"skipped": "no RDMA device (ibv_devices empty)"}))


@pytest.fixture
def topo(home, tmp_path):
    path = tiny_topology(tmp_path)
    mark_up(path)
    return path


def _cases(root: ET.Element) -> dict[str, ET.Element]:
    return {f"{c.get('classname')}/{c.get('name')}": c for c in root.iter("testcase")}


def test_verify_junit_goes_where_asked_with_properties(topo, use_checks, tmp_path):
    use_checks([check("fabric.red.reachability", "pass"), named_check("rdma.nics.perftest", "rdma", _rdma_skipped)])
    target = tmp_path / "ci" / "stacklab.xml"
    assert invoke("verify", topo, "--junit", target).exit_code == 0
    SCHEMA.validate(str(target))
    assert (results_dir("nx") / "verify" / "latest.xml").is_file()  # the default output stays
    root = ET.parse(target).getroot()
    assert root.get("skipped") is None
    _assert_real_properties(root, topo)
    skipped = _cases(root)["rdma/rdma.nics.perftest"].find("skipped").get("message")
    assert skipped == "skipped: no RDMA device (ibv_devices empty)" and "{" not in skipped


def _properties(root: ET.Element) -> list[dict[str, str]]:
    """The <properties> of every testsuite (each carries its own, per the schema)."""
    return [{p.get("name"): p.get("value") for p in suite.iter("property")}
            for suite in root.iter("testsuite")]


def _assert_real_properties(root: ET.Element, topology: Path) -> None:
    """Every property of every suite has a value, and it is the rig's real one."""
    expected = {"kernel": platform.release(), "stacklab.version": version("stacklab"),
                "topology.hash": plan_hash(build_plan(load_topology(topology))), "provider": "embedded",
                "host": platform.node()}
    assert all(expected.values()), expected
    for props in _properties(root):
        assert all(v for v in props.values()), f"empty property: {props}"
        assert {k: props.get(k) for k in expected} == expected


def test_regress_junit_properties_have_the_rigs_values(topo, use_checks, tmp_path):
    use_checks([check("storage.red-vm1/data1.randread", "pass", {"iops": STEADY})])
    target = tmp_path / "regress.xml"
    assert invoke("regress", topo, "--junit", target).exit_code == 0
    root = ET.parse(target).getroot()
    assert len(_properties(root)) == 2  # the check group's suite and the regress suite
    _assert_real_properties(root, topo)
    assert {p["run.id"] for p in _properties(root)} == {"1"}


def test_a_recorded_run_without_rig_details_says_unknown_not_empty(home, tmp_path):
    """A night recorded before the config had these fields (`lab regress --run`)."""
    with History.for_lab(results_dir("nx")) as history:
        run_id = history.record_run(RunRecord("nx", 1000.0, [
            CheckResult("fabric.red.mtu", "fabric", "1450 B with DF", "delivered", "pass")]))
    target = tmp_path / "old.xml"
    assert invoke("regress", "--lab", "nx", "--run", run_id, "--junit", target).exit_code == 0
    SCHEMA.validate(str(target))
    for props in _properties(ET.parse(target).getroot()):
        assert props["kernel"] == props["stacklab.version"] == props["provider"] == "unknown"
        assert props["topology.hash"] == "unknown" and props["host"] == platform.node()


def test_regress_junit_has_a_case_per_metric_and_fails_the_regression(topo, use_checks, tmp_path):
    use_checks([check("storage.red-vm1/data1.randread", "pass", {"iops": STEADY})])
    first = tmp_path / "first.xml"
    assert invoke("regress", topo, "--junit", first).exit_code == 0
    SCHEMA.validate(str(first))
    baseline = _cases(ET.parse(first).getroot())["regress/baseline"]
    assert "no baseline yet" in baseline.find("skipped").get("message")
    use_checks([check("storage.red-vm1/data1.randread", "pass", {"iops": [v * 0.8 for v in STEADY]})])
    second = tmp_path / "second.xml"
    assert invoke("regress", topo, "--junit", second).exit_code == 3
    SCHEMA.validate(str(second))
    root = ET.parse(second).getroot()
    case = _cases(root)["regress/storage.red-vm1/data1.randread:iops"]
    assert case.find("failure").get("type") == "Regression"
    assert _cases(root)["storage/storage.red-vm1/data1.randread"].find("failure") is None  # the spec itself held
    assert root.get("failures") == "1"


def test_an_unwritable_junit_path_is_bad_input(topo, use_checks, tmp_path):
    use_checks([check("fabric.red.reachability", "pass")])
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = invoke("verify", topo, "--junit", blocker / "x.xml")
    assert result.exit_code == 2 and "--junit" in result.output
    assert not (results_dir("nx") / "verify").exists()  # refused before the checks ran


def test_the_schema_is_strict_where_jenkins_is(tmp_path):
    """A `skipped` count on <testsuites> and a testcase without a name are refused."""
    bad = tmp_path / "bad.xml"
    bad.write_text('<testsuites skipped="1"><testsuite name="s" tests="0" failures="0" errors="0"/>'
                   "</testsuites>")
    assert not SCHEMA.is_valid(str(bad))
    bad.write_text('<testsuites><testsuite name="s" tests="1" failures="0" errors="0">'
                   "<testcase/></testsuite></testsuites>")
    assert not SCHEMA.is_valid(str(bad))
