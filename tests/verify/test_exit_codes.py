"""Every exit status of `lab verify` / `lab regress`, reached through the
command line with the fault that causes it (lab.exitcodes)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from lab.apply.nsexec import COLLECTORS
from lab.exitcodes import ExitCode, for_verdicts
from lab.verify.result import CheckResult
from lab.verify.runner import named_check

from .cli_support import check, invoke, mark_up, tiny_topology

STEADY = [5400.0, 5410.0, 5390.0, 5405.0, 5395.0, 5401.0, 5398.0, 5403.0]
SLOWER = [v * 0.8 for v in STEADY]


@pytest.fixture
def topo(home, tmp_path):
    path = tiny_topology(tmp_path)
    mark_up(path)
    return path


def test_all_checks_pass_exits_0(topo, use_checks):
    use_checks([check("fabric.red.reachability", "pass"), check("rdma.nics.perftest", "skipped")])
    result = invoke("verify", topo)
    assert result.exit_code == ExitCode.OK == 0, result.output


def test_a_spec_not_met_exits_1_even_next_to_an_error(topo, use_checks):
    use_checks([check("fabric.red.reachability", "pass"), check("fabric.bridges.no_flooding", "fail"),
                check("fabric.red.vni_on_wire", "error")])
    assert invoke("verify", topo).exit_code == ExitCode.SPEC_NOT_MET == 1


@pytest.mark.parametrize("args", [["--only", "nope"], ["--keep-runs", "0"], ["--format", "xml"]])
def test_bad_input_exits_2(topo, use_checks, args):
    use_checks([check("fabric.red.reachability", "pass")])
    result = invoke("verify", topo, *args)
    assert result.exit_code == ExitCode.BAD_INPUT == 2, result.output


def test_bad_keep_runs_environment_exits_2_naming_the_variable(topo, use_checks, monkeypatch):
    use_checks([check("fabric.red.reachability", "pass")])
    monkeypatch.setenv("STACKLAB_KEEP_RUNS", "lots")
    result = invoke("verify", topo)
    assert result.exit_code == 2 and "STACKLAB_KEEP_RUNS" in result.output


def test_a_topology_with_errors_exits_2(home, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nservers: nope\n")
    assert invoke("verify", bad).exit_code == 2


def test_regression_with_every_spec_met_exits_3(topo, use_checks):
    use_checks([check("storage.red-vm1/data1.randread", "pass", {"iops": STEADY})])
    assert invoke("regress", topo).exit_code == 0  # the first run is the baseline
    use_checks([check("storage.red-vm1/data1.randread", "pass", {"iops": SLOWER})])
    result = invoke("regress", topo)
    assert result.exit_code == ExitCode.REGRESSION == 3, result.output
    assert "REGRESSION" in result.stdout


def test_regression_next_to_a_failed_check_exits_1(topo, use_checks):
    use_checks([check("storage.red-vm1/data1.randread", "pass", {"iops": STEADY})])
    invoke("regress", topo)
    use_checks([check("storage.red-vm1/data1.randread", "pass", {"iops": SLOWER}),
                check("fabric.red.isolation", "fail")])
    assert invoke("regress", topo).exit_code == 1


def test_lab_not_up_exits_4(home, tmp_path, monkeypatch):
    monkeypatch.setattr("lab.cli.common.is_root", lambda: True)
    result = invoke("verify", tiny_topology(tmp_path))  # no saved plan: never brought up
    assert result.exit_code == ExitCode.CANNOT_MEASURE == 4
    assert "is not up" in result.output


@pytest.mark.parametrize("command", ["verify", "regress"])
def test_needs_root_exits_4(topo, monkeypatch, command):
    monkeypatch.setattr("lab.cli.common.is_root", lambda: False)
    result = invoke(command, topo)
    assert result.exit_code == 4 and "needs root" in result.output


def test_needs_root_exits_4_for_up_and_down_too(topo, monkeypatch):
    monkeypatch.setattr("lab.cli.common.is_root", lambda: False)
    assert invoke("up", topo).exit_code == 4
    assert invoke("down", topo).exit_code == 4


def _collector_crashes() -> CheckResult:
    """A real collector run with arguments it rejects: it exits non-zero."""
    subprocess.run([sys.executable, str(COLLECTORS / "vxlan_capture.py"), "--no-such-flag"],
                   capture_output=True, check=True, timeout=60)
    return CheckResult("fabric.all_tenants.vni_on_wire", "fabric", "", "", "pass")


def test_a_crashing_collector_is_that_checks_error_and_exits_4(topo, use_checks):
    use_checks([named_check("fabric.all_tenants.vni_on_wire", "fabric", _collector_crashes),
                check("fabric.red.reachability", "pass")])
    result = invoke("verify", topo, "--format", "json")
    assert result.exit_code == 4, result.output
    import json

    verdicts = {c["name"]: c["verdict"] for c in json.loads(result.stdout)["checks"]}
    assert verdicts == {"fabric.all_tenants.vni_on_wire": "error", "fabric.red.reachability": "pass"}


@pytest.mark.parametrize("verdict", ["inconclusive", "a-verdict-from-the-future"])
def test_inconclusive_or_unknown_verdicts_exit_4(topo, use_checks, verdict):
    use_checks([check("fabric.red.reachability", "pass"), check("storage.red-vm1/fast1.randread.control", verdict)])
    assert invoke("verify", topo).exit_code == 4


def test_an_unexpected_crash_is_one_line_and_exits_4(topo, use_checks, monkeypatch, home):
    use_checks([])

    def broken_catalog(plan):
        raise RuntimeError("catalog\nexploded")

    monkeypatch.setattr("lab.report.verification.checks_for", broken_catalog)
    result = invoke("verify", topo)
    assert result.exit_code == 4
    assert "Traceback" not in result.output
    [line] = [ln for ln in result.stderr.splitlines() if "crashed" in ln]
    assert "RuntimeError: catalog exploded" in line
    logs = list((home / "log").glob("crash-verify-*.log"))
    assert len(logs) == 1 and "Traceback" in logs[0].read_text()
    debug = invoke("verify", topo, "--debug")
    assert debug.exit_code == 4 and "Traceback" in debug.stderr


@pytest.mark.root
def test_a_lab_whose_namespaces_are_gone_cannot_be_measured_exits_4(topo):
    """The saved plan says up, the namespaces do not exist (a reboot): the
    real fabric checks error, none passes, and the run says so with 4."""
    result = invoke("verify", topo, "--only", "fabric", "--format", "json")
    assert result.exit_code == 4, result.output


def test_exit_code_precedence():
    assert for_verdicts([]) == 0
    assert for_verdicts(["pass", "skipped"], regressed=True) == 3
    assert for_verdicts(["pass", "error"], regressed=True) == 4
    assert for_verdicts(["fail", "error"], regressed=True) == 1


@pytest.mark.parametrize(("argv", "target"), [
    (["up", "{topo}"], "lab.providers.embedded.up"),
    (["down", "--lab", "nx"], "lab.providers.embedded.down"),
])
def test_every_verb_is_guarded_a_crash_in_up_or_down_is_one_line_and_exits_4(topo, monkeypatch, home,
                                                                            argv, target):
    """Not only verify: a nightly `lab up` whose QEMU died must not end in frames."""
    monkeypatch.setattr("lab.cli.common.require_root", lambda why: None)

    def broken(*args, **kwargs):
        raise RuntimeError("tap vanished")

    monkeypatch.setattr(target, broken)
    result = invoke(*[a.format(topo=topo) for a in argv])
    assert result.exit_code == 4, result.output
    assert "Traceback" not in result.output
    assert any("crashed" in ln and "RuntimeError: tap vanished" in ln for ln in result.stderr.splitlines())


@pytest.mark.parametrize("argv", [["up", "{topo}"], ["up", "{topo}", "--dry-run"], ["down", "{topo}"],
                                  ["down", "--lab", "nx"]])
def test_a_lab_locked_by_another_run_exits_4_and_changes_nothing(topo, monkeypatch, argv):
    """Another `up`/`down` holds the lab (an overlapping night): the rig could
    not act; 1 would claim a spec was not met, 2 that the topology is wrong."""
    from lab.providers.state import lab_lock

    monkeypatch.setattr("lab.cli.common.require_root", lambda why: None)
    with lab_lock("nx"):  # held by this process: the command's own lock attempt fails at once
        result = invoke(*[a.format(topo=topo) for a in argv])
    assert result.exit_code == ExitCode.CANNOT_MEASURE == 4, result.output
    assert "is busy" in result.output and "Traceback" not in result.output


def test_a_namespace_owned_by_someone_else_exits_4(topo, monkeypatch):
    """The plan's namespace exists with another owner's mark: nothing is
    created, exit 4 (the host is not ready; the same topology is valid)."""
    monkeypatch.setattr("lab.cli.common.require_root", lambda why: None)
    monkeypatch.setattr("lab.providers.embedded.namespace_exists", lambda name: True)
    monkeypatch.setattr("lab.providers.embedded.namespace_mark", lambda name: "stacklab:other-lab")
    result = invoke("up", topo)
    assert result.exit_code == ExitCode.CANNOT_MEASURE == 4, result.output
    assert "not owned by lab 'nx'" in result.output


def test_up_and_down_help_explain_the_exit_statuses():
    for verb in ("up", "down"):
        text = " ".join(invoke(verb, "--help").stdout.split())
        assert "4 the rig could not measure or act" in text and "locked by another run" in text
