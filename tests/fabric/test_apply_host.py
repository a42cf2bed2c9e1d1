"""`lab apply-host` on a stand-in "real server" (a namespace with its own NIC,
a foreign interface and a foreign address): the host's plan is applied with
the embedded appliers, nothing foreign is touched, a second run changes
nothing, and --down removes only what the lab created."""

from __future__ import annotations

import json
import sys

import pytest
from pyroute2 import netns

from lab.apply.netns import Sockets, remove_namespace
from lab.apply.nsexec import run_in_namespace
from lab.model import load_topology
from lab.plan.planner import build_plan

from .helpers import DEFAULT

pytestmark = pytest.mark.root
NS = "ahtest.server"


@pytest.fixture
def server(tmp_path):
    plan = build_plan(load_topology(DEFAULT))
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps({"host": "hv2", "plan": plan.model_dump(mode="json")}))
    netns.create(NS)
    try:
        with Sockets() as sockets:
            ipr = sockets(NS)
            ipr.link("add", ifname="eth0", kind="veth", mtu=1500, peer={"ifname": "wire0"})
            ipr.link("add", ifname="mgmt0", kind="veth", peer={"ifname": "mgmt1"})
            eth0 = ipr.link_lookup(ifname="eth0")[0]
            ipr.addr("add", index=eth0, address="203.0.113.5", prefixlen=24)
            ipr.link("set", index=eth0, state="up")
        yield plan_file
    finally:
        remove_namespace(NS)


def apply(plan_file, *extra: str) -> dict:
    proc = run_in_namespace(NS, [sys.executable, "-m", "lab", "apply-host", "--plan", str(plan_file),
                                 "--host", "hv2", "--format", "json", *extra], timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def links_and_addresses() -> tuple[set[str], set[str]]:
    with Sockets() as sockets:
        ipr = sockets(NS)
        names = {m.get("IFLA_IFNAME") for m in ipr.get_links()}
        addrs = {f"{a.get('IFA_ADDRESS')}/{a['prefixlen']}" for a in ipr.get_addr(family=2)}
    return names, addrs


def test_apply_host_converges_without_touching_foreign_state(server):
    first = apply(server)
    assert first["changed"] > 0
    names, addrs = links_and_addresses()
    assert {"br1001", "vx1001", "br1002", "vx1002", "mgmt0"} <= names
    assert {"198.18.0.12/24", "203.0.113.5/24"} <= addrs
    second = apply(server)
    assert second["changed"] == 0, second["changes"]
    assert apply(server, "--down", "--dry-run")["changed"] > 0
    apply(server, "--down")
    names, addrs = links_and_addresses()
    assert "br1001" not in names and "vx1002" not in names and "mgmt0" in names
    assert addrs >= {"203.0.113.5/24"} and "198.18.0.12/24" not in addrs


def test_apply_host_rejects_an_unknown_host_with_exit_2(server):
    proc = run_in_namespace(NS, [sys.executable, "-m", "lab", "apply-host", "--plan", str(server),
                                 "--host", "nope"], timeout=60)
    assert proc.returncode == 2 and "not in the plan" in proc.stderr
