"""Live tests in the embedded lab `lbt`: DSR, distribution, HA ports,
affinity, failover, and fault injection proving each check can fail."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from lb_support import require_root

from lab.lb import lifecycle, loader
from lab.lb.control import with_controller
from lab.lb.state import muxes_of
from lab.model import load_topology
from lab.plan.planner import build_plan
from lab.verify.lb import checks

TOPOLOGY = Path(__file__).with_name("lbt.yaml")
LAB = "lbt"
pytestmark = pytest.mark.root


@pytest.fixture(scope="module")
def lab():
    require_root("clang", "bpftool", "tcpdump")
    from lab.providers import embedded

    topo = load_topology(TOPOLOGY)
    plan = build_plan(topo)
    lifecycle.down(LAB)
    embedded.down(LAB)
    try:
        embedded.up(plan)
        lifecycle.up(plan, probes=False)
        # `up` starts the probe daemon; these tests run the echo servers only
        # while a check runs, so the daemon would take every backend down in
        # between. Without it, the checks probe while they run (common.probing).
        lifecycle.stop_probes(LAB)
        yield plan
    finally:
        lifecycle.down(LAB)
        embedded.down(LAB)


def test_thousand_connections_are_answered_from_the_vip_without_crossing_the_mux(lab):
    result = checks.check_dsr(LAB, "mux1", connections=1000, budget_s=120)
    assert result.verdict == "pass", result.measured


def test_ha_ports_forward_arbitrary_tcp_ports_and_udp(lab):
    result = checks.check_ha_ports(LAB, "mux1")
    assert result.verdict == "pass", result.measured


def test_open_flows_keep_their_backend_when_the_ring_changes(lab):
    result = checks.check_affinity(LAB, "mux1")
    assert result.verdict == "pass", result.measured


def test_killed_backend_is_avoided_within_three_intervals_and_comes_back(lab):
    result = checks.check_failover(LAB, "mux1")
    assert result.verdict == "pass", result.measured


def test_dsr_check_fails_when_xdp_is_detached(lab):
    mux = lab.host("mux1")
    loader.detach(mux.namespace, "eth0")
    try:
        result = checks.check_dsr(LAB, "mux1", connections=5, budget_s=10)
    finally:
        prog = loader.Pinned(loader.pin_root(LAB) / "mux1" / "lb", loader.pin_root(LAB)).prog_fd()
        try:
            loader.attach(mux.namespace, "eth0", prog)
        finally:
            os.close(prog)
    assert result.verdict == "fail"


def test_dsr_check_fails_when_encapsulation_is_broken(lab):
    with with_controller(LAB, "mux1") as ctl:
        ctl.corrupt_encap("web", True)
    try:
        result = checks.check_dsr(LAB, "mux1", connections=5, budget_s=10)
    finally:
        with with_controller(LAB, "mux1") as ctl:
            ctl.corrupt_encap("web", False)
    assert result.verdict == "fail"


def test_affinity_check_fails_when_affinity_is_off(lab):
    with with_controller(LAB, "mux1") as ctl:
        ctl.set_affinity(False)
    try:
        result = checks.check_affinity(LAB, "mux1")
    finally:
        with with_controller(LAB, "mux1") as ctl:
            ctl.set_affinity(True)
    assert result.verdict == "fail", result.measured


def test_probes_bring_back_a_backend_that_the_state_holds_down(lab):
    """A prober that starts while a backend is down (left so by an operator or
    an earlier run) must still put it back once its probes answer."""
    from lab.lb import probed
    from lab.lb.state import load_state
    from lab.verify.lb import traffic

    with with_controller(LAB, "mux1") as ctl:
        ctl.set_health("ha", "red-web2", False)
    spec = load_state(LAB, "mux1").spec.lb("ha")
    verdicts: dict = {}
    due: dict = {}
    with traffic.echo_backends(spec.backends, LAB):
        for _ in range(40):  # threshold 2 at 0.5 s: about 1 s
            probed.probe_round(LAB, verdicts, due)
            if load_state(LAB, "mux1").backend("ha", "red-web2").healthy:
                break
            time.sleep(0.1)
    assert load_state(LAB, "mux1").backend("ha", "red-web2").healthy


def test_status_shows_vips_backends_health_and_counters(lab):
    from lab.lb.status import lb_status

    (before,) = lb_status(LAB)
    result = checks.check_dsr(LAB, "mux1", connections=100, budget_s=60)  # its own traffic
    assert result.verdict == "pass", result.measured
    (mux,) = lb_status(LAB)
    assert mux["xdp_attached"] is True
    assert {(f["vip"], f["port"]) for f in mux["frontends"]} == {("192.0.2.10", 80), ("192.0.2.20", 0)}
    assert {b["name"] for b in mux["backends"]} == {"red-web1", "red-web2", "red-db1"}
    assert [f'{b["lb"]}/{b["name"]} {b["last_probe"]}' for b in mux["backends"] if not b["healthy"]] == []
    # each connection sends at least SYN, ACK, request and FIN through the MUX
    assert mux["counters"]["tx"] - before["counters"]["tx"] >= 400
    web = next(f for f in mux["frontends"] if f["port"] == 80)
    web_before = next(f for f in before["frontends"] if f["port"] == 80)
    assert web["new_flows"] - web_before["new_flows"] >= 100
    # the (frontend, backend) split: every frontend's counts are its backends' sum
    for f in mux["frontends"]:
        assert sum(c["packets"] for c in f["by_backend"].values()) == f["packets"]
    assert set(web["by_backend"]) <= {"red-web1", "red-web2", "red-db1"}
    grown = sum(b["packets"] for b in mux["backends"]) - sum(b["packets"] for b in before["backends"])
    assert grown == mux["counters"]["tx"] - before["counters"]["tx"]  # each packet: one backend


def test_vip_and_backends_change_at_run_time_without_reloading_the_program(lab, capsys):
    from lab.lb.bpfsys import obj_get, prog_id
    from lab.plan.lb import backend_spec
    from lab.plan.lb_model import FrontendSpec
    from lab.verify.lb import routing, traffic
    from lab.verify.lb.common import wait_for, wait_healthy

    fd = obj_get(str(loader.pin_root(LAB) / "mux1" / "lb"))
    before = prog_id(fd)
    with with_controller(LAB, "mux1") as ctl:
        add_vip = ctl.add_frontend("web", FrontendSpec(vip="192.0.2.30", port=80, protocol="tcp"))
        remove_be = ctl.remove_backend("web", "red-db1")
        spec, tor_ns = ctl.spec.lb("web"), ctl.spec.tor_namespace
    with traffic.echo_backends(spec.backends):
        wait_healthy(LAB, "mux1", spec)  # a MUX announces a VIP once a backend is healthy in its probes
        # the new VIP is announced over BGP: traffic starts once the ToR routes it
        announced_s = wait_for(lambda: bool(routing.tor_nexthops(LAB, tor_ns, "192.0.2.30")), timeout=15.0)
        assert announced_s is not None, "the ToR never learnt 192.0.2.30 from mux1"
        seen = {traffic.one_shot(f"{LAB}.client", "192.0.2.30", 80)[0] for _ in range(30)}
    assert seen <= {"red-web1", "red-web2"} and seen, seen
    with with_controller(LAB, "mux1") as ctl:
        add_be = ctl.add_backend("web", backend_spec(lab, "red-db1"))
        remove_vip = ctl.remove_frontend("web", "192.0.2.30", 80, "tcp")
    assert traffic.one_shot(f"{LAB}.client", "192.0.2.30", 80, timeout=0.5)[0].startswith("error")
    assert prog_id(fd) == before
    os.close(fd)
    with capsys.disabled():
        print(f"\nmanagement ops: add VIP {add_vip * 1e3:.1f} ms, remove backend {remove_be * 1e3:.1f} ms, "
              f"add backend {add_be * 1e3:.1f} ms, remove VIP {remove_vip * 1e3:.1f} ms; "
              f"ToR route for the new VIP after {announced_s:.2f} s")
    assert max(add_vip, remove_be, add_be, remove_vip) < 5.0


def test_the_tors_table_answers_for_a_vip_it_does_not_route(lab):
    """A withdrawn VIP is "not routed", not an error: a FIB lookup of it raised
    ENETUNREACH in a check that waited for the ToR while BGP withdrew the VIP."""
    from lab.verify.lb import routing, traffic
    from lab.verify.lb.common import wait_healthy

    with with_controller(LAB, "mux1") as ctl:
        spec, tor_ns = ctl.spec.lb("web"), ctl.spec.tor_namespace
    with traffic.echo_backends(spec.backends):
        wait_healthy(LAB, "mux1", spec)  # announced: the ToR routes 192.0.2.10
        assert routing._kernel_has(tor_ns, "192.0.2.10")
    assert not routing._kernel_has(tor_ns, "192.0.2.99")
    assert routing.tor_nexthops(LAB, tor_ns, "192.0.2.99") == set()


@pytest.mark.parametrize(("kind", "check"), [
    ("xdp-detached", lambda: checks.check_dsr(LAB, "mux1", connections=5, budget_s=15)),
    ("encap-broken", lambda: checks.check_dsr(LAB, "mux1", connections=5, budget_s=15)),
    ("affinity-off", lambda: checks.check_affinity(LAB, "mux1")),
])
def test_lab_fault_kinds_break_their_check_and_clear_repairs_it(lab, kind, check):
    from lab.verify.lb import faults

    faults.FAULTS[kind](lab)
    try:
        assert check().verdict == "fail"
    finally:
        faults.clear(lab)
    assert check().verdict == "pass"


def test_exporter_lb_collector_reads_live_counters_from_the_maps(lab):
    from lab.report.collectors.lb import lb_collector

    checks.check_ha_ports(LAB, "mux1")
    families = {f.name: f for f in lb_collector(Path("/nonexistent"), LAB).collect()}
    samples = families["stacklab_lb_packets"].samples
    assert {s.labels["backend"] for s in samples} >= {"red-web1", "red-web2"}
    assert sum(s.value for s in samples) > 0


def test_every_frontend_answers_from_its_vip_and_no_rule_ports_are_dropped(lab):
    from lab.verify.lb.frontends import check_frontends, check_no_rule_dropped

    frontends = check_frontends(LAB)
    assert {r.name for r in frontends} >= {"lb.web.192.0.2.10:80/tcp", "lb.ha.192.0.2.20:5353/udp"}
    assert {r.verdict for r in frontends} == {"pass"}, [r.measured for r in frontends]
    assert {r.verdict for r in check_no_rule_dropped(LAB)} == {"pass"}


@pytest.mark.parametrize("kind", ["xdp-detached", "encap-broken"])
def test_frontend_check_fails_when_the_datapath_is_broken(lab, kind):
    from lab.verify.lb import faults
    from lab.verify.lb.frontends import check_frontends

    faults.FAULTS[kind](lab)
    try:
        verdicts = {r.name: r.verdict for r in check_frontends(LAB, attempts=1)}
    finally:
        faults.clear(lab)
    assert verdicts["lb.web.192.0.2.10:80/tcp"] == "fail"


def test_no_rule_check_fails_when_nothing_enforces_the_rules(lab):
    from lab.verify.lb import faults
    from lab.verify.lb.frontends import check_no_rule_dropped

    faults.xdp_detached(lab)
    try:
        results = check_no_rule_dropped(LAB, attempts=1)
    finally:
        faults.clear(lab)
    assert {r.verdict for r in results} == {"fail"}


def test_dsr_check_fails_when_replies_are_routed_through_the_mux(lab):
    from lab.providers import embedded
    from lab.verify.lb import faults

    faults.dsr_broken(lab)
    try:
        result = checks.check_dsr(LAB, "mux1", connections=5, budget_s=20)
    finally:
        embedded.up(lab)  # the route is not in the plan: up removes it
    assert result.verdict == "fail" and "0 captured" not in result.measured, result.measured
    repaired = checks.check_dsr(LAB, "mux1", connections=20, budget_s=30)
    assert repaired.verdict == "pass", repaired.measured


def test_ha_ports_check_fails_when_encapsulation_is_broken(lab):
    from lab.verify.lb import faults

    faults.encap_broken(lab)
    try:
        result = checks.check_ha_ports(LAB, "mux1")
    finally:
        faults.clear(lab)
    assert result.verdict == "fail", result.measured


def test_failover_check_fails_when_probes_cannot_meet_the_spec(lab):
    """Probing every 0.5 s with threshold 2 cannot take a dead backend out
    within a 0.2 s failover spec: the check must say so."""
    result = checks.check_failover(LAB, "mux1", flows=10, spec_s=0.2)
    assert result.verdict == "fail" and "window 0.20 s" in result.measured, result.measured


def test_lb_down_detaches_and_leaves_no_pins_or_state(lab):
    """Runs last: the fixture's own teardown then finds nothing to remove."""
    tor = next(h for h in lab.hosts if h.role == "tor")
    tor_port = next(link.name for link in tor.links if link.peer and link.peer.host == "mux1")
    assert muxes_of(LAB) == ["mux1"]
    lifecycle.down(LAB)
    assert muxes_of(LAB) == []
    assert not loader.pin_root(LAB).exists()
    assert loader.attached_prog_id(lab.host("mux1").namespace, "eth0") == 0
    assert loader.attached_prog_id(tor.namespace, tor_port) == 0
