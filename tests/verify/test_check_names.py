"""Check names are `<group>.<subject>.<what>` everywhere (lab.verify.names):
the whole catalog on every example topology, the results of checks a topology
switches off, and what the report, the exporter and the alert show. Renamed
checks keep their history (RENAMED)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.model import load_topology
from lab.plan.planner import build_plan
from lab.report.history import History, RunRecord
from lab.report.html import render_report
from lab.verify.catalog import checks_for
from lab.verify.names import RENAMED, current_name, name_problem
from lab.verify.result import CheckResult
from lab.verify.runner import check_identity, run_one

TOPOLOGIES = sorted((Path(__file__).parents[2] / "topologies").glob("*.yaml"))


def _plan(path: Path, **specs):
    topo = load_topology(path)
    if specs:
        topo = topo.model_copy(update={"specs": topo.specs.model_copy(update=specs)})
    return build_plan(topo)


def test_name_problem_accepts_real_names_and_names_the_fault():
    for name, group in [("fabric.red.mtu", "fabric"), ("lb.web.192.0.2.10:80/tcp", "lb"),
                        ("storage.red-vm1/data1.randread.control", "storage"),
                        ("lb.mux_pool.failover", "lb"), ("hlh.bmc.reachable", "hlh")]:
        assert name_problem(name, group) is None, name
    assert "three" in name_problem("lb.mux_failover", "lb")
    assert "three" in name_problem("fabric.isolation", "fabric")
    assert "group 'fabric'" in name_problem("no_flooding", "fabric")
    assert "group 'lb'" in name_problem("fabric.red.mtu", "lb")


@pytest.mark.parametrize("topology", TOPOLOGIES, ids=lambda p: p.stem)
def test_every_check_of_the_catalog_is_group_subject_what(topology):
    checks = checks_for(_plan(topology))
    assert checks
    problems = [name_problem(*check_identity(c)[:2]) for c in checks]
    assert [p for p in problems if p] == []
    names = [check_identity(c)[0] for c in checks]
    assert len(names) == len(set(names)), "two checks of one lab share a name"


def test_the_catalog_covers_every_group():
    groups = {check_identity(c)[1] for t in TOPOLOGIES for c in checks_for(_plan(t))}
    assert groups == {"fabric", "lb", "storage", "rdma", "baseline", "hlh", "vpn"}


def test_checks_a_topology_switches_off_report_under_their_full_names():
    plan = _plan(TOPOLOGIES[0], isolation=False, no_flooding=False)
    skipped = {}
    for check in checks_for(plan):
        name, group, _ = check_identity(check)
        if name in ("fabric.all_tenants.isolation", "fabric.bridges.no_flooding"):
            [result] = run_one(check)  # not run: no lab needed
            skipped[result.name] = (result.group, result.verdict)
    assert skipped == {"fabric.all_tenants.isolation": ("fabric", "skipped"),
                       "fabric.bridges.no_flooding": ("fabric", "skipped")}


def test_every_renamed_check_maps_to_a_well_formed_name():
    for old, new in RENAMED.items():
        assert name_problem(new, new.split(".")[0]) is None, new
        assert name_problem(old, new.split(".")[0]) is not None, f"{old} was fine: why rename it?"
        assert current_name(old) == new and current_name(new) == new


def _failover(name: str, verdict: str, seconds: float) -> CheckResult:
    return CheckResult(name, "lb", "new flows recover within 1 s of a MUX failing",
                       f"{seconds:.1f} s", verdict, metrics={"failover_s": [seconds]})


def test_history_reads_renamed_checks_under_their_new_name(tmp_path):
    """Two nights before the rename, two after: one check in the report, the
    exporter's streak and the metric trend, not two half-histories."""
    with History.for_lab(tmp_path) as history:
        for night, (name, verdict, seconds) in enumerate([
                ("lb.mux_failover", "pass", 0.4), ("lb.mux_failover", "fail", 3.1),
                ("lb.mux_pool.failover", "fail", 3.3), ("lb.mux_pool.failover", "fail", 3.2)]):
            history.record_run(RunRecord("nite-hist", 1000.0 * night, [_failover(name, verdict, seconds)]))
        runs = history.runs("nite-hist")
        assert {r.name for run in runs for r in run.results} == {"lb.mux_pool.failover"}
        verdicts = [v for _, v in history.verdict_history("nite-hist")]
        assert verdicts[0] == {("lb", "lb.mux_pool.failover"): "pass"}
        series = history.metric_series("nite-hist", "lb.mux_pool.failover", "failover_s")
        assert [p.samples for p in series] == [[0.4], [3.1], [3.3], [3.2]]
    html = render_report(tmp_path, lab="nite-hist").read_text()
    assert "failing 3 runs in a row" in html and "lb.mux_failover" not in html
    assert "lb.lb." not in html


def test_the_report_matrix_and_exporter_show_the_name_once(tmp_path):
    """The check name already starts with its group: nothing puts it in front again."""
    from prometheus_client import generate_latest

    from lab.report.exporter import build_registry

    with History.for_lab(tmp_path / "nite-m") as history:
        for night in range(3):
            history.record_run(RunRecord("nite-m", 1000.0 * night, [
                CheckResult("fabric.red.mtu", "fabric", "1450 B with DF", "lost", "fail")]))
    html = render_report(tmp_path / "nite-m").read_text()
    assert 'data-check="fabric.red.mtu"' in html and "fabric.fabric" not in html
    text = generate_latest(build_registry([tmp_path / "nite-m"], use_registered=False)).decode()
    assert 'stacklab_check_consecutive_failures{check="fabric.red.mtu",group="fabric",lab="nite-m"} 3.0' in text
