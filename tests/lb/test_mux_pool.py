"""The MUX pool live (topologies/mux-pool.yaml): FRR on the ToR and on both
MUXes, the VIP announced by each MUX while it can serve it, ECMP over both,
a MUX lost without moving established flows; every pool fault is caught by
the check it targets; `lab down` leaves no daemon, socket or file."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from lb_support import running_lab

from lab.lb import advertise, frr, lifecycle, loader
from lab.lb.control import with_controller
from lab.model import load_topology
from lab.plan.planner import build_plan
from lab.verify.catalog import clear_features
from lab.verify.lb import bgp as bgp_checks
from lab.verify.lb import muxpool, pool_faults
from lab.verify.lb.common import probing, wait_for
from lab.verify.lb.routing import tor_nexthops
from tests.fabric.helpers import ROOT

TOPOLOGY = ROOT / "topologies" / "mux-pool.yaml"
LAB = "muxpool"
VIP = "192.0.2.30"


def test_the_tor_config_comes_from_the_ansible_template_and_frr_accepts_it(tmp_path):
    if shutil.which("vtysh") is None:
        if os.environ.get("CI"):
            pytest.fail("vtysh (frr) is missing; scripts/install-deps.sh installs it")
        pytest.skip("needs vtysh (frr)")
    plan = build_plan(load_topology(TOPOLOGY))
    tor = frr.render_tor(LAB, plan.bgp, str(tmp_path / "frr.log"))
    assert "neighbor 198.18.4.14 peer-group MUXES" in tor and "maximum-paths 16" in tor
    assert "transmit-interval 100" in tor and "detect-multiplier 3" in tor
    mux = frr.render_mux(plan.mux("mux1"), str(tmp_path / "frr.log"))
    assert "neighbor 198.18.4.1 remote-as 65000" in mux and "router bgp 65100" in mux
    for name, text in (("tor.conf", tor), ("mux.conf", mux), ("bad.conf", tor.replace("remote-as external",
                                                                                        "remote-as nobody"))):
        (tmp_path / name).write_text(text)
        out = subprocess.run(["vtysh", "-C", "-f", str(tmp_path / name)], capture_output=True, text=True,
                             check=False)
        assert (out.returncode == 0) == (name != "bad.conf"), out.stdout + out.stderr


def test_a_vip_is_announced_only_with_the_program_attached_and_a_healthy_backend():
    from lab.lb.state import BackendState, MuxState, RuleState

    plan = build_plan(load_topology(TOPOLOGY))
    state = MuxState(spec=plan.mux("mux1"), ring_slots=1, rules=[RuleState("web", VIP, 80, "tcp", 1, 0, 7)],
                     backends=[BackendState("web", "web1", 1, healthy=False), BackendState("web", "web2", 2)])
    assert advertise.can_serve(state, attached=True) == [VIP]
    assert advertise.can_serve(state, attached=False) == []
    state.backends[1].healthy = False
    assert advertise.can_serve(state, attached=True) == []


@pytest.fixture(scope="module")
def plan():
    with running_lab(TOPOLOGY, LAB, "clang", "bpftool", "vtysh") as plan:
        yield plan


def _verdicts(plan) -> dict[str, tuple[str, str]]:
    from lab.verify.lb.checks import verify_checks

    wanted = ("lb.bgp.sessions", "lb.bgp.routes", "lb.ecmp.spread", "lb.mux_pool.failover")
    out = {}
    for check in verify_checks(plan):
        if check.check_name in wanted:
            r = check()
            out[r.name] = (r.verdict, r.measured)
    return out


def _repair(plan) -> None:
    from lab.providers import embedded

    embedded.up(plan)
    clear_features(plan)
    wait_for(lambda: bgp_checks.check_sessions(plan).verdict == "pass", 20.0, 0.2)


@pytest.mark.root
def test_every_pool_check_passes_five_runs_in_a_row(plan):
    """Five runs back to back, each stopping a MUX mid-traffic and bringing
    it back: nothing fails. The failover check may say inconclusive when the
    host was too busy to time it (it measures the host's pressure and says
    so); every other check passes every time, and at least one run is clean."""
    runs = [_verdicts(plan) for _ in range(5)]
    for verdicts in runs:
        assert set(verdicts) == {"lb.bgp.sessions", "lb.bgp.routes", "lb.ecmp.spread", "lb.mux_pool.failover"}
        assert all(v == "pass" or (n == "lb.mux_pool.failover" and v == "inconclusive")
                   for n, (v, _) in verdicts.items()), runs
    assert any(all(v == "pass" for v, _ in verdicts.values()) for verdicts in runs), runs


@pytest.mark.root
def test_a_pooled_vip_is_measured_once_under_one_name(plan):
    """The client reaches the pool through the ToR whichever MUX carries the
    flow: one result per frontend and per VIP, not one per MUX."""
    from lab.verify.lb.frontends import check_frontends, check_no_rule_dropped

    results = check_frontends(LAB, attempts=1) + check_no_rule_dropped(LAB, attempts=1)
    assert sorted(r.name for r in results) == [f"lb.no_rule.{VIP}:81", f"lb.web.{VIP}:80/tcp"], results
    assert {r.verdict for r in results} == {"pass"}, results


@pytest.mark.root
def test_advertisement_follows_the_program_and_the_health(plan):
    mux1, mux2 = plan.mux("mux1"), plan.mux("mux2")
    lb = mux1.lb("web")
    with muxpool.traffic.echo_backends(lb.backends, LAB, muxpool.traffic.echo_ports(lb)), \
            probing(LAB, "mux1", "web"):
        both = {mux1.underlay_ip, mux2.underlay_ip}
        assert wait_for(lambda: tor_nexthops(LAB, mux1.tor_namespace, VIP) == both, 20.0) is not None
        loader.detach(mux1.namespace, mux1.ifname)  # the probe loop notices
        try:
            gone = wait_for(lambda: tor_nexthops(LAB, mux1.tor_namespace, VIP) == {mux2.underlay_ip}, 5.0)
        finally:
            muxpool.revive(mux1)
        assert gone is not None
        assert wait_for(lambda: tor_nexthops(LAB, mux1.tor_namespace, VIP) == both, 10.0) is not None
    with with_controller(LAB, "mux2") as ctl:  # every backend down on mux2 only: it withdraws
        for b in lb.backends:
            ctl.set_health("web", b.name, False)
    assert advertise.announced(mux2.namespace, mux2.vip_pool) == []
    assert wait_for(lambda: mux2.underlay_ip not in tor_nexthops(LAB, mux1.tor_namespace, VIP), 5.0) is not None


def _set_health(plan, mux: str, healthy: bool) -> None:
    with with_controller(LAB, mux) as ctl:  # the controller re-syncs the announcement
        for b in plan.mux(mux).lb("web").backends:
            ctl.set_health("web", b.name, healthy)


def _samples(text: str) -> dict[tuple[str, tuple], float]:
    from prometheus_client.parser import text_string_to_metric_families

    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(text) for s in f.samples}


@pytest.mark.root
def test_status_and_the_exporter_show_each_muxs_session_and_announced_vips(plan):
    """mux1 serves the VIP, mux2 has no healthy backend: `lab status` (JSON and
    table) and the exporter say so per MUX, with the ToR's view."""
    from prometheus_client import generate_latest
    from typer.testing import CliRunner

    from lab.cli import app
    from lab.lb import bgp
    from lab.paths import lab_dir
    from lab.report.exporter import build_registry

    _set_health(plan, "mux1", True)
    _set_health(plan, "mux2", False)
    try:
        accepted = {"mux1": 1, "mux2": 0}
        assert wait_for(lambda: {m: b["tor"]["accepted"] for m, b in bgp.status(LAB).items()} == accepted,
                        10.0) is not None, bgp.status(LAB)
        result = CliRunner().invoke(app, ["status", "--lab", LAB, "--format", "json"])
        assert result.exit_code == 0, result.output
        seen = json.loads(result.stdout)["bgp"]
        assert {m: (b["session"], b["bfd"], b["advertised"], b["tor"]["session"]) for m, b in seen.items()} == {
            "mux1": ("Established", "up", [VIP], "Established"), "mux2": ("Established", "up", [], "Established")}
        assert seen["mux1"]["peer"] == plan.bgp.router_id
        table = CliRunner().invoke(app, ["status", "--lab", LAB], terminal_width=200)
        assert "BGP: MUX sessions to the ToR" in table.output and VIP in table.output, table.output
        text = generate_latest(build_registry([lab_dir(LAB)])).decode()
    finally:
        _set_health(plan, "mux2", True)
    s = _samples(text)
    peer = ("peer", plan.bgp.router_id)
    for mux in ("mux1", "mux2"):
        labels = (("lab", LAB), ("mux", mux), peer)
        assert s[("stacklab_lb_bgp_session_up", labels)] == 1.0, mux
        assert s[("stacklab_lb_bgp_bfd_up", labels)] == 1.0, mux
        assert s[("stacklab_lb_bgp_accepted_routes", labels)] == accepted[mux], mux
    assert s[("stacklab_lb_bgp_route_advertised", (("lab", LAB), ("mux", "mux1"), peer, ("vip", VIP)))] == 1.0
    assert not any(name == "stacklab_lb_bgp_route_advertised" and ("mux", "mux2") in labels
                   for name, labels in s)


@pytest.mark.root
@pytest.mark.parametrize("fault, check", [
    ("mux-down", "lb.bgp.sessions"), ("bgp-flap", "lb.bgp.sessions"),
    ("ecmp-l3-hash", "lb.ecmp.spread"), ("ring-diverge", "lb.mux_pool.failover")])
def test_each_pool_fault_fails_its_check_and_no_other(plan, fault, check):
    """All four pool checks run while the fault holds: the targeted one fails;
    the others pass, or (a MUX out of service leaves one MUX to spread over or
    fail over) say why they could not measure; none fails."""
    detail = pool_faults.FAULTS[fault](plan)
    try:
        verdicts = _verdicts(plan)
    finally:
        _repair(plan)
    assert verdicts[check][0] == "fail", (detail, verdicts)
    others = {n: v for n, v in verdicts.items() if n != check}
    if check == "lb.bgp.sessions":  # mux1 is out: the ToR routes via mux2 alone, rightly
        assert others["lb.bgp.routes"][0] == "pass", (detail, verdicts)
        for pool_check in ("lb.ecmp.spread", "lb.mux_pool.failover"):
            verdict, why = others[pool_check]
            assert verdict == "skipped" and "mux1 not in service" in why, (detail, verdicts)
    else:
        allowed = {"lb.mux_pool.failover": {"pass", "inconclusive"}}  # timing on a busy host: see judge
        assert all(v in allowed.get(n, {"pass"}) for n, (v, _) in others.items()), (detail, verdicts)
    assert bgp_checks.check_sessions(plan).verdict == "pass"


@pytest.mark.root
def test_down_leaves_no_routing_daemon_socket_or_file(plan):
    from lab.providers import embedded

    pids = {h: frr.Instance(LAB, h, "").pids() for h in frr.instances(LAB)}
    assert set(pids) == {"tor", "mux1", "mux2"} and all(len(p) == 3 for p in pids.values())
    embedded.down(LAB)
    root = frr.frr_root(LAB)
    assert not root.exists()
    alive = [pid for p in pids.values() for pid in p.values() if Path(f"/proc/{pid}").exists()
             and b"frr" in Path(f"/proc/{pid}/cmdline").read_bytes()]
    assert alive == []
    leftovers = [p for p in Path("/proc").glob("[0-9]*") if str(root).encode() in _cmdline(p)]
    assert leftovers == []
    embedded.up(plan)  # the module fixture tears down again
    lifecycle.stop_probes(LAB)


def _cmdline(proc: Path) -> bytes:
    try:
        return (proc / "cmdline").read_bytes()
    except OSError:
        return b""
