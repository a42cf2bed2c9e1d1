"""The roles run for real against network-namespace targets (stacklab.lab.netns).

Covers the network, MTU, nftables, FRR-validation, SSH-config and secret parts;
packages/services/users need a real Debian host (their tasks are tagged and
skipped here).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from ansb_targets import SECRET, NetnsLab, topology, write_inventory
from pyroute2 import IPRoute

from lab.plan.planner import build_plan
from lab.providers.ansible import RunResult, deprovision, last_run, provision

pytestmark = pytest.mark.root

TAGS = ["network", "firewall", "ssh", "secrets", "kvm", "frr", "rdma", "plan"]


def _run(lab_dir: Path, inventory: Path, password: Path, rdma: bool = False,
         **options) -> RunResult:
    return provision(build_plan(topology(rdma)), inventory, lab_dir / "state", vault_password_file=password,
                     tags=options.pop("tags", TAGS), **options)


@pytest.fixture(scope="module")
def converged(netns_lab: NetnsLab, tmp_path_factory):
    """Two full runs: the first converges, the second must change nothing."""
    lab_dir = tmp_path_factory.mktemp("ansb")
    inventory, password = write_inventory(netns_lab, lab_dir / "inventory")
    first = _run(lab_dir, inventory, password)
    second = _run(lab_dir, inventory, password, ping=False)
    return lab_dir, inventory, password, first, second


def files_containing(root: Path, needle: str) -> list[Path]:
    """Every file under root whose bytes contain needle."""
    data = needle.encode()
    return [p for p in root.rglob("*") if p.is_file() and data in p.read_bytes()]


def test_first_run_converges_every_host(converged, netns_lab):
    first = converged[3]
    assert first.succeeded, first.to_json()
    assert set(first.hosts) == {"tor", "hv1", "mux1"}
    assert netns_lab.mtu("hv1", "eth0") == 9000
    assert netns_lab.mtu("mux1", "eth0") == 9000
    assert netns_lab.mtu("tor", "underlay") == 9000
    # the ToR hashes ECMP flows by L4 ports (the VIP's flows spread over the MUXes), also after a boot
    policy = netns_lab.run("tor", "cat", "/proc/sys/net/ipv4/fib_multipath_hash_policy").stdout.strip()
    assert policy == "1"
    persisted = (converged[1].parent / "files" / "tor" / "sysctl.conf").read_text()
    assert "net.ipv4.fib_multipath_hash_policy = 1" in persisted, persisted


def test_second_run_reports_no_change_on_any_host(converged):
    second = converged[4]
    assert second.succeeded, second.to_json()
    assert {h: r.changed for h, r in second.hosts.items()} == {"tor": 0, "hv1": 0, "mux1": 0}
    summary = last_run.load(converged[0] / "state")  # what the provider's status reports
    assert summary["hosts"] == {"tor": "ok", "hv1": "ok", "mux1": "ok"}
    assert (summary["action"], summary["check_mode"], summary["succeeded"]) == ("up", False, True)


def _ruleset(lab: NetnsLab, host: str, table: str) -> dict:
    done = lab.run(host, "nft", "-j", "list", "table", "inet", table)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _connects(lab: NetnsLab, src: str, dst: str, port: int) -> bool:
    """TCP connect from src's namespace to a listener in dst's namespace (bounded: 2 s)."""
    listener = subprocess.Popen(
        ["nsenter", f"--net=/run/netns/{lab.namespaces[dst]}", "python3", "-c",
         f"import socket,time;s=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);"
         f"s.bind(('0.0.0.0',{port}));s.listen();time.sleep(4)"])
    try:
        time.sleep(0.5)
        probe = lab.run(src, "python3", "-c",
                        f"import socket;socket.create_connection(('{lab.addresses[dst]}',{port}),timeout=1.5)")
        return probe.returncode == 0
    finally:
        listener.kill()
        listener.wait()


def test_default_deny_holds_and_drift_is_repaired(converged, netns_lab):
    lab_dir, inventory, password = converged[:3]
    chains = {c["chain"]["name"]: c["chain"] for c in _ruleset(netns_lab, "hv1", "stacklab")["nftables"]
              if "chain" in c}
    assert chains["input"]["policy"] == "drop" and chains["forward"]["policy"] == "drop"
    assert not _connects(netns_lab, "tor", "hv1", 8080), "a port the lab does not allow was reachable"
    # fault: the firewall is removed by hand -> the probe gets through, the next run restores it
    assert netns_lab.run("hv1", "nft", "delete", "table", "inet", "stacklab").returncode == 0
    assert _connects(netns_lab, "tor", "hv1", 8080)
    repair = _run(lab_dir, inventory, password, ping=False, limit="hv1", tags=["firewall"])
    assert repair.succeeded and repair.hosts["hv1"].changed == 1
    assert not _connects(netns_lab, "tor", "hv1", 8080)


def _ssh_password_attempt(lab: NetnsLab, config: Path, *server_opts: str) -> str:
    """Start sshd in hv1 with the rendered config; try a password login from the ToR."""
    sshd = subprocess.Popen(["nsenter", f"--net=/run/netns/{lab.namespaces['hv1']}",
                             "/usr/sbin/sshd", "-D", "-e", "-f", str(config), "-o", "PidFile=none",
                             *server_opts], stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.7)
        done = lab.run("tor", "ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
                       "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=3",
                       "-o", "PreferredAuthentications=password,keyboard-interactive",
                       f"nobody@{lab.addresses['hv1']}", "true", timeout=10)
        return done.stderr
    finally:
        sshd.kill()
        sshd.wait()


def test_password_ssh_login_is_refused(converged, netns_lab):
    config = converged[1].parent / "files" / "hv1" / "sshd_config"
    assert os.stat(config).st_mode & 0o777 == 0o600
    refused = _ssh_password_attempt(netns_lab, config)
    assert "Permission denied (publickey)" in refused, refused
    # fault: the same server with passwords enabled offers them, and the check sees it
    offered = _ssh_password_attempt(netns_lab, config, "-o", "PasswordAuthentication=yes",
                                    "-o", "AuthenticationMethods=any")
    assert "password" in offered.split("Permission denied")[-1], offered


def test_secret_is_stored_0600_and_never_in_runner_artifacts(converged):
    lab_dir = converged[0]
    secret_file = converged[1].parent / "files" / "hv1" / "secrets" / "bmc_password"
    assert secret_file.read_text() == SECRET
    assert os.stat(secret_file).st_mode & 0o777 == 0o600
    assert files_containing(lab_dir / "state", SECRET) == []


def test_secret_finder_detects_a_leak(tmp_path):
    (tmp_path / "job_events").mkdir()
    leak = tmp_path / "job_events" / "1-leak.json"
    leak.write_text(json.dumps({"res": {"content": SECRET}}))
    assert files_containing(tmp_path, SECRET) == [leak]


def test_frr_rejects_a_bad_tor_config_and_the_role_fails_clearly(converged, netns_lab):
    lab_dir, inventory, password = converged[:3]
    frr_conf = converged[1].parent / "files" / "tor" / "frr.conf"
    good = frr_conf.read_text()
    assert "router bgp 65000" in good and "neighbor 198.18.0.11 peer-group SERVERS" in good
    assert "neighbor 198.18.0.12 peer-group MUXES" in good and "maximum-paths 16" in good
    bad = _run(lab_dir, inventory, password, ping=False, limit="tor", tags=["frr"],
               extravars={"tor_ecmp_paths": 999})
    assert bad.hosts["tor"].status == "failed"
    assert "maximum-paths 999" in bad.hosts["tor"].failures[0].message
    assert frr_conf.read_text() == good


def test_rdma_claim_without_an_rdma_device_fails_that_host_clearly(converged, netns_lab):
    lab_dir, inventory, password = converged[:3]
    result = _run(lab_dir, inventory, password, rdma=True, ping=False, limit="hv1,mux1",
                  tags=["rdma"])
    assert result.hosts["hv1"].status == "failed"
    message = result.hosts["hv1"].failures[0].message
    assert "hv1: the inventory says NIC(s) eth0 are RDMA-capable" in message
    assert "no RDMA devices at all" in message
    assert result.hosts["mux1"].status == "ok"  # a failed host is a result, not a lost run


def test_check_mode_reports_drift_without_changing_it(converged, netns_lab):
    lab_dir, inventory, password = converged[:3]
    with IPRoute(netns=netns_lab.namespaces["hv1"]) as ipr:
        ipr.link("set", index=ipr.link_lookup(ifname="eth0")[0], mtu=1500)
    dry = _run(lab_dir, inventory, password, ping=False, check=True, diff=True)
    assert dry.succeeded, dry.to_json()
    # both the role's MTU task and the lab agent's dry run see the drift
    assert "Set the underlay MTU on the underlay interfaces" in dry.hosts["hv1"].changed_tasks
    assert set(dry.hosts["hv1"].changed_tasks) <= {"Set the underlay MTU on the underlay interfaces",
                                                   "Apply the plan with the stacklab appliers"}
    assert dry.hosts["tor"].changed == 0 and dry.hosts["mux1"].changed == 0
    summary = last_run.load(lab_dir / "state")
    assert summary["check_mode"] and summary["hosts"]["hv1"] == "changed"
    assert netns_lab.mtu("hv1", "eth0") == 1500
    with IPRoute(netns=netns_lab.namespaces["hv1"]) as ipr:
        ipr.link("set", index=ipr.link_lookup(ifname="eth0")[0], mtu=9000)


def _links(lab: NetnsLab, host: str) -> dict[str, dict]:
    with IPRoute(netns=lab.namespaces[host]) as ipr:
        return {link.get_attr("IFLA_IFNAME"): link for link in ipr.get_links()}


def test_lab_agent_applies_the_hosts_plan_with_the_stacklab_appliers(converged, netns_lab):
    """hv1 hosts a red endpoint: its bridge and VXLAN device come from `lab apply-host`."""
    hv1 = _links(netns_lab, "hv1")
    assert {"br1001", "vx1001"} <= set(hv1)
    info = hv1["vx1001"].get_attr("IFLA_LINKINFO").get_attr("IFLA_INFO_DATA")
    assert info.get_attr("IFLA_VXLAN_ID") == 1001
    assert info.get_attr("IFLA_VXLAN_LOCAL") == "198.18.0.11"
    assert not {"br1001", "vx1001"} & set(_links(netns_lab, "mux1"))
    applied = [t for t in converged[3].hosts["hv1"].changed_tasks if "stacklab appliers" in t]
    assert applied, converged[3].hosts["hv1"].changed_tasks


def test_down_removes_the_lab_state_from_servers_and_tor(converged, netns_lab):
    lab_dir, inventory, password = converged[:3]
    result = deprovision(build_plan(topology()), inventory, lab_dir / "state", vault_password_file=password,
                         ping=False)
    assert result.succeeded, result.to_json()
    assert not {"br1001", "vx1001"} & set(_links(netns_lab, "hv1"))
    assert netns_lab.run("tor", "nft", "list", "table", "inet", "stacklab_tor").returncode != 0
    frr_conf = converged[1].parent / "files" / "tor" / "frr.conf"
    assert "router bgp" not in frr_conf.read_text()
