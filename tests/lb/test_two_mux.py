"""Two MUXes in one lab (topologies/two-mux.yaml): each VIP is routed to the
MUX of its LB, every LB check passes on both, a remapped rule really reaches
the backend port through the servers' host agents, and breaking that rewrite
is caught."""

from __future__ import annotations

import pytest
from lb_support import running_lab

from lab.apply import portmap
from lab.apply.owned_table import delete_table
from lab.verify.lb import checks
from lab.verify.lb.frontends import check_frontends
from tests.fabric.helpers import ROOT

TOPOLOGY = ROOT / "topologies" / "two-mux.yaml"
LAB = "twomux"
pytestmark = pytest.mark.root


@pytest.fixture(scope="module")
def plan():
    with running_lab(TOPOLOGY, LAB, "clang", "bpftool", "tcpdump") as plan:
        yield plan


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
    assert repaired == ["portmap"]
    assert {r.name: r.verdict for r in check_frontends(LAB)}["lb.web.192.0.2.10:80/tcp"] == "pass"
