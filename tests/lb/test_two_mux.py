"""Two MUXes in one lab (topologies/two-mux.yaml): each VIP is routed to the
MUX of its LB, every LB check passes on both, a remapped rule really reaches
the backend port through the servers' host agents, and breaking that rewrite
is caught."""

from __future__ import annotations

import pytest
from lb_support import change_list, running_lab

from lab.apply import portmap
from lab.apply.owned_table import delete_table
from lab.lb import lifecycle
from lab.verify.lb import checks
from lab.verify.lb.frontends import check_frontends
from tests.fabric.helpers import ROOT

TOPOLOGY = ROOT / "topologies" / "two-mux.yaml"
LAB = "twomux"
pytestmark = pytest.mark.root


FIRST_UP: dict[str, list] = {}


def changes(report) -> list[dict]:
    return change_list(report)


@pytest.fixture(scope="module")
def plan():
    with running_lab(TOPOLOGY, LAB, "clang", "bpftool", "tcpdump", first_up=FIRST_UP) as plan:
        yield plan


def test_dry_run_lists_exactly_what_up_does_on_a_fresh_lab(plan):
    assert FIRST_UP["dry"] == FIRST_UP["up"]
    kinds = {c["kind"] for c in FIRST_UP["up"]}
    assert {"netns", "portmap", "xdp-lb", "probed"} <= kinds
    assert sum(c["kind"] == "xdp-lb" for c in FIRST_UP["up"]) == 2


def test_every_lb_check_passes_on_both_muxes(plan):
    results = []
    for check in checks.verify_checks(plan):
        out = check()
        results += out if isinstance(out, list) else [out]
    verdicts = {r.name: (r.verdict, r.measured) for r in results}
    failed = {name: v for name, v in verdicts.items() if v[0] != "pass"}
    assert not failed, failed
    for mux in ("mux1", "mux2"):
        assert {f"lb.{mux}.{what}" for what in ("dsr_distribution", "ha_ports", "flow_affinity",
                                                "failover")} <= set(verdicts)
    remapped = verdicts["lb.web.192.0.2.10:80/tcp"][1]
    assert "host agents rewrote" in remapped and "rewrote 0 " not in remapped
    assert verdicts["lb.api.192.0.2.20:53/udp"][0] == "pass"


def test_a_missing_host_agent_rewrite_fails_the_frontend_check(plan):
    from lab.providers import embedded

    hv1 = plan.host("hv1").namespace
    delete_table(hv1, portmap.FAMILY, portmap.TABLE)
    try:
        verdicts = {r.name: r.verdict for r in check_frontends(LAB)}
        assert verdicts["lb.web.192.0.2.10:80/tcp"] == "fail"
        assert verdicts["lb.api.192.0.2.20:443/tcp"] == "pass"  # not remapped, not on hv1's rules
    finally:
        repaired = [c.kind for c in embedded.up(plan).changes]
        lifecycle.stop_probes(LAB)  # `up` starts it; these tests probe while they run
    assert repaired == ["portmap", "probed"]
    assert {r.name: r.verdict for r in check_frontends(LAB)}["lb.web.192.0.2.10:80/tcp"] == "pass"


def test_dry_run_lists_exactly_what_up_does_on_a_drifted_lab(plan):
    """Drift in the fabric (a port map gone), the datapath (a rule removed at
    run time) and a backend (its VIP off lo): dry run and up agree, and after
    up nothing is left to change."""
    from lab.lb import hostside
    from lab.lb.control import with_controller
    from lab.providers import embedded

    delete_table(plan.host("hv2").namespace, portmap.FAMILY, portmap.TABLE)
    with with_controller(LAB, "mux2") as ctl:
        ctl.remove_frontend("api", "192.0.2.20", 443, "tcp")
    web1 = plan.mux("mux1").lb("web").backends[0]
    hostside.remove_vip(plan.lab, web1, "192.0.2.10")
    try:
        dry = changes(embedded.up(plan, dry_run=True))
        done = changes(embedded.up(plan))
        assert dry == done
        assert {(c["kind"], c["action"]) for c in done} == {
            ("portmap", "create"), ("lb-rule", "create"), ("vip", "create"), ("probed", "create")}
        assert changes(embedded.up(plan, dry_run=True)) == []
    finally:
        lifecycle.stop_probes(LAB)
