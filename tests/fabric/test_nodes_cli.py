"""`lab list`, `lab exec`, `lab shell`, `lab capture` on the minimal
topology (topologies/minimal.yaml), brought up for real: the command runs
in the node's namespace, its exit code comes back, bad names are refused."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import threading
import time

import pytest
import yaml
from scapy.layers.inet import TCP
from scapy.utils import rdpcap

from lab.model import load_topology
from lab.plan.planner import build_plan
from lab.providers import nodes
from tests.fabric.helpers import ROOT, lab_cli

MINIMAL = ROOT / "topologies" / "minimal.yaml"
LAB = "nodecli"
# a SYN to the tenant gateway's port 80 (answered by a RST): two packets, bounded
KNOCK = ("import socket, time\nfor _ in range(5):\n    try: socket.create_connection(('100.64.1.1', 80), 1).close()\n"
         "    except OSError: pass\n    time.sleep(0.2)")
IFACES = "import socket; print(sorted(n for _, n in socket.if_nameindex()))"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    if sys.platform != "linux":
        pytest.skip("namespaces need Linux")
    data = yaml.safe_load(MINIMAL.read_text())
    data["name"] = LAB
    path = tmp_path_factory.mktemp("nodes") / f"{LAB}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    lab_cli("down", "--lab", LAB, check=False)
    lab_cli("up", str(path), timeout=300)
    try:
        yield path
    finally:
        lab_cli("down", "--lab", LAB, check=False)


def test_the_plan_names_every_node_and_resolves_endpoints_and_vms():
    plan = build_plan(load_topology(ROOT / "topologies" / "embedded.yaml"))
    assert nodes.resolve(plan, "red-web1") == nodes.resolve(plan, "ep.red-web1")
    assert nodes.resolve(plan, "demo.hv1").namespace == "demo.hv1"
    vm = nodes.resolve(plan, "red-vm1")
    assert (vm.kind, vm.namespace) == ("vm", plan.host("hv3").namespace)
    with pytest.raises(nodes.NoSuchNodeError, match="did you mean 'hv1'"):
        nodes.resolve(plan, "hv11")


@pytest.mark.root
def test_list_shows_the_lab_up_with_its_hosts(lab):
    rows = {r["lab"]: r for r in json.loads(lab_cli("list", "--format", "json").stdout)["labs"]}
    row = rows[LAB]
    assert (row["state"], row["provider"], row["hosts"], row["vms"]) == ("up", "embedded", 5, 0)
    assert row["last_verdict"] is None  # never verified
    table = lab_cli("list").stdout
    assert any(line.split()[:2] == [LAB, "up"] for line in table.splitlines())


@pytest.mark.root
def test_exec_runs_in_the_nodes_namespace_and_passes_its_exit_code(lab):
    server = lab_cli("exec", LAB, "hv1", "--", sys.executable, "-c", IFACES).stdout
    endpoint = lab_cli("exec", LAB, "red-web1", "--", sys.executable, "-c", IFACES).stdout
    assert "underlay" in server or "eth0" in server
    assert any(name.startswith("vx") for name in ast.literal_eval(server))  # the VXLAN device lives on the server
    assert ast.literal_eval(endpoint) == ["eth0", "lo"]
    code = lab_cli("exec", LAB, "tor", "--", sys.executable, "-c", "raise SystemExit(7)", check=False)
    assert code.returncode == 7
    missing = lab_cli("exec", LAB, "hv1", "--", "no-such-command-here", check=False)
    assert missing.returncode == 127 and "command not found" in missing.stderr


@pytest.mark.root
def test_shell_reads_commands_in_the_namespace(lab):
    proc = subprocess.run([sys.executable, "-m", "lab", "shell", LAB, "red-web1"], input="echo hi\nexit 5\n",
                          check=False, capture_output=True, text=True, timeout=60, cwd=ROOT, env=_env("/bin/sh"))
    assert proc.returncode == 5 and "hi" in proc.stdout


@pytest.mark.root
def test_capture_writes_a_pcap_of_the_nodes_interface(lab, tmp_path):
    pcap = tmp_path / "knock.pcap"

    def ping() -> None:
        time.sleep(1.0)  # tcpdump is listening by then
        lab_cli("exec", LAB, "red-web1", "--", sys.executable, "-c", KNOCK, check=False)

    pinger = threading.Thread(target=ping)
    pinger.start()
    proc = lab_cli("capture", LAB, "red-web1", "eth0", "-w", str(pcap), "-c", "2", "--filter", "tcp port 80",
                   timeout=30)
    pinger.join()
    assert proc.returncode == 0
    packets = rdpcap(str(pcap))
    assert len(packets) == 2 and all(p.haslayer(TCP) and 80 in (p[TCP].sport, p[TCP].dport) for p in packets)


@pytest.mark.root
@pytest.mark.parametrize(("argv", "code", "says"), [
    (["exec", "nosuchlab", "hv1", "--", "true"], 4, "no lab nosuchlab"),
    (["exec", LAB, "hv11", "--", "true"], 2, "did you mean 'hv1'"),
    (["capture", LAB, "hv1", "eth9"], 2, "has no interface 'eth9'"),
    (["capture", LAB, "hv1", "lo", "-c", "0"], 2, "--count must be >= 1"),
])
def test_bad_lab_node_or_interface_is_refused(lab, argv, code, says):
    proc = lab_cli(*argv, check=False)
    assert proc.returncode == code and says in proc.stderr, proc.stderr


def _env(shell: str) -> dict[str, str]:
    import os

    return {**os.environ, "SHELL": shell}
