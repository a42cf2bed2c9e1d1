"""What `lab verify/regress/history/status` print without a terminal at 80
columns (systemd, cron): one line per check, nothing longer than the line,
no word cut in two; progress as one line per step; `--wide` has the rest."""

from __future__ import annotations

import pytest

from lab.verify.result import CheckResult
from lab.verify.runner import named_check

from .cli_support import as_journal, assert_reads_in_a_journal, invoke, mark_up, tiny_topology

LONG_TARGET = ("probes from hv1, hv2, hv3 and hv4 to 12 addresses of other tenants reach none of "
               "them within the two second window")


def _checks(iops: list[float], leak: bool = True):
    def isolation() -> CheckResult:
        if not leak:
            return CheckResult("fabric.red.isolation", "fabric", LONG_TARGET,
                               "0 foreign endpoints reached", "pass")
        return CheckResult("fabric.red.isolation", "fabric", LONG_TARGET,
                           "3 foreign endpoints reached (blue-web1, blue-web2, blue-app1)", "fail",
                           "blue-web1 answered; blue-web2 answered; blue-app1 answered")

    def disk() -> list[CheckResult]:
        return [CheckResult("storage.red-vm1/data1.randread.control", "storage",
                            "red-vm1/data1 (/dev/vdb) at least 2 x the standard cap",
                            "5400 IOPS steady, expected >= 2 x 500 (uncapped)", "pass",
                            metrics={"iops": iops})]

    return [named_check("fabric.red.isolation", "fabric", isolation),
            named_check("storage.all_disks.iops", "storage", disk)]


@pytest.fixture
def topo(home, tmp_path):
    path = tiny_topology(tmp_path)
    mark_up(path)
    return path


def _render(monkeypatch, width: int, *args) -> tuple[int, str, str]:
    as_journal(monkeypatch, width)
    result = invoke(*args)
    return result.exit_code, result.stdout, result.stderr


def test_verify_prints_one_line_per_check_at_80_columns(topo, use_checks, monkeypatch):
    use_checks(_checks([5400.0] * 6))
    code, narrow, progress = _render(monkeypatch, 80, "verify", topo)
    assert code == 1
    _, wide, _ = _render(monkeypatch, 1000, "verify", topo)
    assert_reads_in_a_journal(narrow, wide)
    [fail_line] = [ln for ln in narrow.splitlines() if "fabric.red.isolation" in ln]
    assert fail_line.startswith("FAIL") and "3 foreign endpoints reached" in fail_line
    assert narrow.index("fabric.red.isolation") < narrow.index("storage.red-vm1")
    assert progress.splitlines()[:2] == ["verify 1/2: fabric: fabric.red.isolation",
                                         "verify 2/2: storage: storage.all_disks.iops"]


def test_wide_shows_evidence_and_targets_in_full(topo, use_checks, monkeypatch):
    use_checks(_checks([5400.0] * 6))
    _, text, _ = _render(monkeypatch, 200, "verify", topo, "--wide")
    assert "blue-app1 answered" in " ".join(text.split())
    assert "within the two second window" in " ".join(text.split())


def test_regress_and_history_read_in_a_journal(topo, use_checks, monkeypatch):
    use_checks(_checks([5400.0, 5410.0, 5390.0, 5405.0, 5395.0, 5401.0], leak=False))
    assert invoke("regress", topo).exit_code == 0
    use_checks(_checks([4000.0, 4010.0, 3990.0, 4005.0, 3995.0, 4001.0]))
    assert invoke("regress", topo).exit_code == 1
    code, narrow, _ = _render(monkeypatch, 80, "regress", topo, "--run", "2", "--lab", "nx")
    _, wide, _ = _render(monkeypatch, 1000, "regress", topo, "--run", "2", "--lab", "nx")
    assert code == 1  # the isolation check failed that night
    assert_reads_in_a_journal(narrow, wide)
    at = narrow.splitlines().index("storage.red-vm1/data1.randread.control")
    assert narrow.splitlines()[at + 1].split()[:2] == ["REGRESSION", "iops"], narrow
    code, narrow, _ = _render(monkeypatch, 80, "history", "--lab", "nx")
    _, wide, _ = _render(monkeypatch, 1000, "history", "--lab", "nx")
    assert code == 0
    assert_reads_in_a_journal(narrow, wide)
    assert sum(ln.startswith("#") for ln in narrow.splitlines()) == 2


def test_status_reads_in_a_journal(topo, monkeypatch):
    code, narrow, _ = _render(monkeypatch, 80, "status", topo)
    _, wide, _ = _render(monkeypatch, 1000, "status", topo)
    assert code == 0, narrow
    assert_reads_in_a_journal(narrow, wide)
    assert "red-a" in narrow and "hv2" in narrow


UP_PHASES = ["namespaces", "links", "link settings", "addresses and routes", "overlay tables",
             "load balancer on mux1"]


@pytest.fixture
def provider(monkeypatch):
    """Stands in for the embedded provider, which needs root: it reports its
    phases through the callback the command hands it, as the real one does
    (tests/verify/test_nightly_live.py watches the real one)."""
    from lab.providers.embedded import UpReport

    def up(plan, dry_run=False, progress=lambda _: None):
        for phase in UP_PHASES:
            progress(phase)
            progress(phase)  # a phase reported twice in a row prints once
        return UpReport(plan.lab)

    def down(lab, progress=lambda _: None):
        for phase in ("VMs", "load balancers", "namespaces"):
            progress(phase)
        return ["netns nx.hv1"]

    monkeypatch.setattr("lab.providers.embedded.up", up)
    monkeypatch.setattr("lab.providers.embedded.down", down)
    monkeypatch.setattr("lab.cli.common.require_root", lambda why: None)


def test_up_and_down_print_a_line_per_step_without_a_terminal(topo, provider, monkeypatch):
    """`console.status` prints nothing without a terminal: a nightly `up` left no trace."""
    code, _, progress = _render(monkeypatch, 80, "up", topo)
    assert code == 0
    assert progress.splitlines() == ["up nx: planning", *(f"up nx: {p}" for p in UP_PHASES)]
    code, stdout, progress = _render(monkeypatch, 80, "down", topo)
    assert code == 0 and "removed 1 objects" in stdout
    assert progress.splitlines() == ["down nx: tearing down", "down nx: removing VMs",
                                     "down nx: removing load balancers", "down nx: removing namespaces"]


def test_up_progress_leaves_json_output_alone(topo, provider, monkeypatch):
    import json

    code, stdout, progress = _render(monkeypatch, 80, "up", topo, "--format", "json")
    assert code == 0 and json.loads(stdout)["lab"] == "nx"
    assert "up nx: links" in progress.splitlines()


def test_up_on_a_terminal_is_a_live_status_not_a_line_per_step(topo, provider, monkeypatch):
    import io

    from rich.console import Console

    terminal = Console(file=io.StringIO(), force_terminal=True, width=80)
    monkeypatch.setattr("lab.cli.lifecycle.console", terminal)
    assert invoke("up", topo).exit_code == 0
    text = terminal.file.getvalue()
    assert "\x1b[?25l" in text and "\x1b[?25h" in text  # a live display hid the cursor, then restored it
    assert "up nx: links\n" not in text


def test_steps_update_one_status_line_on_a_terminal():
    import io
    import time

    from rich.console import Console

    from lab.cli.progress import steps

    terminal = Console(file=io.StringIO(), force_terminal=True, width=80)
    with steps(terminal, "up nite") as step:
        for phase in ("namespaces", "links [veth]"):
            step(phase)
            time.sleep(0.3)  # the status refreshes 12.5 times a second
    text = terminal.file.getvalue()
    assert "up nite: namespaces" in text and "up nite: links [veth]" in text  # no markup eaten
    journal = Console(file=io.StringIO(), force_terminal=False, width=30)
    with steps(journal, "up nite") as step:
        step("namespaces")
        step("load balancer on mux1 of lab nite")
    assert journal.file.getvalue().splitlines() == ["up nite: namespaces", "up nite: load balancer on…"]
