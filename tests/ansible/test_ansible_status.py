"""`status` of the ansible provider: what this machine knows from the last
provision or deprovision run from here (no server needed: the run's summary
is written as the driver writes it)."""

from __future__ import annotations

import calendar
import time

import pytest

from lab.paths import lab_dir
from lab.providers.ansible import last_run
from lab.providers.ansible.provider import AnsibleProvider
from lab.providers.ansible.results import HostResult, RunResult

LAB = "ivstatus"


@pytest.fixture
def provider(tmp_path, monkeypatch):
    monkeypatch.setenv("STACKLAB_HOME", str(tmp_path))
    return AnsibleProvider(None, None)


def _result(playbook: str, **hosts: HostResult) -> RunResult:
    failed = any(h.failed or h.unreachable for h in hosts.values())
    return RunResult(playbook, 2 if failed else 0, "failed" if failed else "successful", "/artifacts/x", hosts)


def test_status_before_any_run_has_only_the_old_keys(provider):
    assert provider.status(LAB) == {"lab": LAB, "provider": "ansible", "state": "down",
                                    "state_dir": str(lab_dir(LAB) / "ansible")}


def test_status_reports_each_hosts_outcome_the_end_and_the_check_mode_of_the_last_run(provider):
    state = lab_dir(LAB) / "ansible"
    result = _result("site.yml", tor=HostResult("tor", ok=3), hv1=HostResult("hv1", ok=4, changed=2),
                     hv2=HostResult("hv2", ok=1, failed=1), mux1=HostResult("mux1", unreachable=1))
    before = time.time()
    last_run.save(state, "up", result, check=True)
    status = provider.status(LAB)
    assert {k: status[k] for k in ("lab", "provider", "state", "state_dir")} == {
        "lab": LAB, "provider": "ansible", "state": "provisioned", "state_dir": str(state)}
    run = status["last_run"]
    assert run["hosts"] == {"hv1": "changed", "hv2": "failed", "mux1": "unreachable", "tor": "ok"}
    assert (run["action"], run["playbook"], run["check_mode"], run["succeeded"], run["rc"]) == (
        "up", "site.yml", True, False, 2)
    ended = calendar.timegm(time.strptime(run["ended"], "%Y-%m-%dT%H:%M:%SZ"))
    assert before - 2 <= ended <= time.time() + 2


def test_a_finished_down_leaves_the_lab_down(provider):
    state = lab_dir(LAB) / "ansible"
    last_run.save(state, "down", _result("down.yml", tor=HostResult("tor", ok=2, changed=1)), check=False)
    status = provider.status(LAB)
    assert status["state"] == "down" and status["last_run"]["hosts"] == {"tor": "changed"}
    last_run.save(state, "down", _result("down.yml", tor=HostResult("tor", failed=1)), check=False)
    assert provider.status(LAB)["state"] == "provisioned"  # a host may still hold the lab
