"""topologies/three-tenants.yaml brought up as it is (lab tenants3): three
tenants with the same 100.64.20.0/24 on shared servers stay apart (a
datagram to 100.64.20.11 reaches only the sender's own tenant), blue's
smaller MTU is what the kernel has on every blue link, `lab exec` and
`lab shell` reach the gateways and the client, and `lab down` leaves nothing.

Every probe runs through `lab exec` inside a namespace (never from the root
namespace) and is bounded in packets and seconds.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys

import pytest

from lab.model import load_topology
from lab.paths import lab_dir, lock_path
from lab.plan.planner import build_plan
from tests.fabric.helpers import ROOT, lab_cli, lab_namespaces

TOPOLOGY = ROOT / "topologies" / "three-tenants.yaml"
LAB = "tenants3"
PORT = 7000
# answers each datagram with this endpoint's name; at most 20 datagrams or 30 s
ECHO = f"""
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", {PORT}))
s.settimeout(1.0)
end, left = time.monotonic() + 30, 20
while time.monotonic() < end and left:
    try:
        data, peer = s.recvfrom(64)
    except socket.timeout:
        continue
    left -= 1
    if data == b"quit":
        break
    s.sendto(sys.argv[1].encode(), peer)
"""
# asks ADDRESS:PORT who it is: TRIES tries, one second each; prints the answer or "none"
ASK = f"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1.0)
answer = "none"
for _ in range(int(sys.argv[3])):
    s.sendto(sys.argv[2].encode(), (sys.argv[1], {PORT}))
    try:
        answer = s.recvfrom(64)[0].decode()
        break
    except OSError:
        pass
print(answer)
"""

pytestmark = pytest.mark.root


@pytest.fixture(scope="module")
def plan():
    lab_cli("down", "--lab", LAB, check=False)
    lab_cli("up", str(TOPOLOGY), timeout=600)
    try:
        yield build_plan(load_topology(TOPOLOGY))
    finally:
        lab_cli("down", str(TOPOLOGY), check=False, timeout=600)


def _python(node: str, code: str, *args: str) -> str:
    return lab_cli("exec", LAB, node, "--", sys.executable, "-c", code, *args, timeout=60).stdout.strip()


def _echo(node: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "lab", "exec", LAB, node, "--", sys.executable, "-c", ECHO, node],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def test_the_same_address_in_three_tenants_answers_only_from_the_senders_tenant(plan):
    addresses = {e.name: e.address for e in plan.endpoints}
    assert addresses["red2"] == addresses["green2"] == "100.64.20.11"  # the overlap the topology is about
    servers = [_echo("red2"), _echo("green2")]
    try:
        assert _python("red1", ASK, "100.64.20.11", "who", "5") == "red2"
        assert _python("green1", ASK, "100.64.20.11", "who", "5") == "green2"
        assert _python("blue1", ASK, "100.64.20.11", "who", "3") == "none"  # blue has no .11: nobody else answers
    finally:
        _python("red1", ASK, "100.64.20.11", "quit", "1")
        _python("green1", ASK, "100.64.20.11", "quit", "1")
        for server in servers:
            assert server.wait(timeout=40) == 0, server.stderr.read()


def test_every_link_has_its_planned_mtu_and_blue_is_smaller(plan):
    from pyroute2 import IPRoute

    from lab.apply.netns import inside

    blue = [(h.name, link.name) for h in plan.hosts for link in h.links if link.mtu == 1400]
    assert {("ep.blue1", "eth0"), ("gw.blue", "br3003"), ("hv1", "vx3003")} <= set(blue)
    for host in plan.hosts:
        with inside(host.namespace):
            ipr = IPRoute()
        with ipr:
            kernel = {link.get_attr("IFLA_IFNAME"): link.get_attr("IFLA_MTU") for link in ipr.get_links()}
        wrong = {link.name: (link.mtu, kernel.get(link.name)) for link in host.links
                 if kernel.get(link.name) != link.mtu}
        assert not wrong, f"{host.name}: planned vs kernel MTU {wrong}"


def test_exec_reaches_the_gateways_and_the_client(plan):
    gateway = ast.literal_eval(_python("gw.blue", "import socket; print(sorted(n for _, n in socket.if_nameindex()))"))
    assert {"br3003", "vx3003", "eth0"} <= set(gateway)
    assert {"br3001", "br3002"}.isdisjoint(gateway)  # a gateway holds its own tenant only
    client = ast.literal_eval(_python("client", "import socket; print(sorted(n for _, n in socket.if_nameindex()))"))
    assert client == ["eth0", "lo"]
    failed = lab_cli("exec", LAB, "gw.red", "--", sys.executable, "-c", "raise SystemExit(6)", check=False)
    assert failed.returncode == 6


def test_shell_on_a_gateway_and_on_the_client_runs_in_their_namespace(plan):
    env = {**os.environ, "SHELL": "/bin/sh"}
    script = f"{sys.executable} -c 'import socket; print(sorted(n for _, n in socket.if_nameindex()))'\nexit 3\n"
    seen = {}
    for node in ("gw.green", "client"):
        done = subprocess.run([sys.executable, "-m", "lab", "shell", LAB, node], input=script, env=env, cwd=ROOT,
                              capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 3, done.stderr
        seen[node] = ast.literal_eval(done.stdout.strip().splitlines()[-1])
    assert "br3002" in seen["gw.green"] and seen["client"] == ["eth0", "lo"]


def test_the_lab_by_name_is_the_lab_by_file(plan):
    """`up --lab` converges to the plan the lab was brought up with: nothing to do."""
    again = json.loads(lab_cli("up", "--lab", LAB, "--format", "json", timeout=300).stdout)
    assert (again["lab"], again["changed"]) == (LAB, False)
    by_name = json.loads(lab_cli("status", "--lab", LAB, "--format", "json").stdout)
    by_file = json.loads(lab_cli("status", "-t", str(TOPOLOGY), "--format", "json").stdout)
    steady = ("lab", "state", "servers", "fabric", "tenants", "endpoints")  # secrets' ages tick between calls
    assert {k: by_name[k] for k in steady} == {k: by_file[k] for k in steady}
    assert {h["health"] for h in by_name["servers"]} == {"ok"}
    saved = json.loads(lab_cli("plan", "--lab", LAB, "--format", "json").stdout)
    assert saved == plan.model_dump(mode="json")


def test_down_leaves_no_residue(plan):
    lab_cli("down", str(TOPOLOGY), timeout=600)
    assert lab_namespaces(LAB) == []
    assert not lab_dir(LAB).exists() and not lock_path(LAB).exists()
    assert LAB not in {row["lab"] for row in json.loads(lab_cli("list", "--format", "json").stdout)["labs"]}
    status = lab_cli("status", "--lab", LAB, check=False)
    assert status.returncode == 4 and f"no lab {LAB}" in status.stderr
