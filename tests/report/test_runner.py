"""lab.verify.runner: checks run, broken checks become errors, and every run
is written as schema-valid JUnit XML, the JSON contract and a history row."""

from __future__ import annotations

import io
import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import xmlschema
from rich.console import Console

from lab.cli.verify_view import render_summary
from lab.report.history import History
from lab.report.runs import record_run
from lab.verify.result import CheckResult
from lab.verify.runner import VerifyRun, named_check, run_checks, run_one

SCHEMA = xmlschema.XMLSchema(Path(__file__).with_name("junit.xsd"))


def _mtu() -> CheckResult:
    return CheckResult("mtu hv1->hv2", "fabric", "1500 bytes DF", "1500", "pass",
                       metrics={"rtt_ms": [0.1, 0.2]})


def _flood() -> CheckResult:
    return CheckResult("no flooding", "fabric", "0 unknown-unicast frames", "12 frames", "fail",
                       evidence="/lab/pcap/flood.pcap")


def _rdma() -> list[CheckResult]:
    return [CheckResult("rdma hv1", "rdma", "ib_write_bw", "n/a", "skipped", "no RDMA device")]


def _broken() -> CheckResult:
    raise ConnectionRefusedError("mux1 did not answer")


def _checks():
    return [named_check("mtu hv1->hv2", "fabric", _mtu), named_check("no flooding", "fabric", _flood),
            _rdma, named_check("vip reachable", "lb", _broken, target="SYN-ACK from VIP")]


def _quiet() -> Console:
    return Console(file=io.StringIO(), width=200)


def test_exception_in_a_check_becomes_an_error_result_with_evidence():
    [result] = run_one(named_check("vip", "lb", _broken, target="t"))
    assert (result.name, result.group, result.verdict, result.target) == ("vip", "lb", "error", "t")
    assert "ConnectionRefusedError: mux1 did not answer" in result.evidence
    assert result.duration_s >= 0


def test_wrong_return_type_is_an_error_not_a_crash():
    [result] = run_one(named_check("odd", "g", lambda: "pass"))
    assert result.verdict == "error" and "not CheckResult" in result.evidence


def test_run_writes_json_contract_junit_and_history(tmp_path):
    run = record_run(run_checks(_checks(), "demo", "topohash", {"kernel": "6.1"}, console=_quiet()),
                     tmp_path)
    assert not run.passed
    report = json.loads(run.json_path.read_text())
    assert report["passed"] is False
    assert [c["verdict"] for c in report["checks"]] == ["pass", "fail", "skipped", "error"]
    for check in report["checks"]:
        assert {"name", "group", "target", "measured", "verdict", "evidence"} <= check.keys()
    assert set(run.to_json()) == {"passed", "checks"}
    assert json.loads((tmp_path / "verify" / "latest.json").read_text()) == report
    with History.for_lab(tmp_path) as history:
        stored = history.run(run.run_id)
    assert stored.topology_hash == "topohash" and stored.config == {"kernel": "6.1"}
    assert [r.verdict for r in stored.results] == ["pass", "fail", "skipped", "error"]


def test_junit_validates_and_maps_verdicts(tmp_path):
    run = record_run(run_checks(_checks(), "demo", "h", {}, console=_quiet()), tmp_path)
    SCHEMA.validate(str(run.junit_path))
    root = ET.parse(run.junit_path).getroot()
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("4", "1", "1")
    assert root.get("skipped") is None  # not in the Jenkins xunit schema for <testsuites>
    assert sum(int(s.get("skipped")) for s in root.iter("testsuite")) == 1
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert cases["no flooding"].get("classname") == "fabric"
    assert cases["no flooding"].find("failure").text == "/lab/pcap/flood.pcap"
    assert cases["vip reachable"].find("error") is not None
    assert cases["rdma hv1"].find("skipped").get("message") == "no RDMA device"
    assert cases["mtu hv1->hv2"].find("failure") is None
    assert {s.get("name") for s in root.iter("testsuite")} == {"demo.fabric", "demo.rdma", "demo.lb"}


def test_only_group_skips_other_checks_before_they_run(tmp_path):
    ran = []

    def spy() -> CheckResult:
        ran.append("lb")
        return CheckResult("lb", "lb", "", "", "pass")

    run = run_checks([named_check("mtu", "fabric", _mtu), named_check("lb", "lb", spy), _rdma],
                     "demo", "h", {}, only=["fabric"], console=_quiet())
    assert [r.group for r in run.results] == ["fabric"] and ran == []
    assert run.passed


def test_summary_table_lists_failures_first():
    console = _quiet()
    run = VerifyRun("demo", 0, 1.0, "h", {}, [_mtu(), _flood()])
    render_summary(run, console)
    text = console.file.getvalue()
    assert text.index("no flooding") < text.index("mtu hv1->hv2")
    assert "FAILED" in text


def test_run_config_records_kernel_and_tool_versions():
    from lab.verify.runner import run_config

    config = run_config(extra={"provider": "embedded"},
                        probes={"python3": (sys.executable, "--version"), "nope": ("no-such-tool-x",)})
    assert config["kernel"] and config["provider"] == "embedded"
    assert config["versions"]["python3"].startswith("Python 3")
    assert "nope" not in config["versions"]


def test_topology_hash_is_stable_and_changes_with_the_topology():
    from lab.model import parse_topology
    from lab.verify.runner import topology_hash

    text = Path(__file__).parents[2].joinpath("topologies/embedded.yaml").read_text()
    a, b = parse_topology(text), parse_topology(text)
    c = a.model_copy(update={"name": "other"})
    assert topology_hash(a) == topology_hash(b) != topology_hash(c)


def test_two_results_under_one_name_are_an_error_naming_it():
    def pooled() -> list[CheckResult]:  # e.g. one frontend measured once per MUX
        return [CheckResult("lb.web.192.0.2.30:80/tcp", "lb", "", "", "pass") for _ in range(3)]

    run = run_checks([named_check("mtu", "fabric", _mtu), named_check("lb.web.frontends", "lb", pooled)],
                     "demo", "h", {}, console=_quiet())
    clash = [r for r in run.results if r.verdict == "error"]
    assert [(r.name, r.group) for r in clash] == [("lb.results.unique_names", "lb")]
    assert "lb.web.192.0.2.30:80/tcp (3 results)" in clash[0].measured
    assert not run.passed and run.exit_code != 0
