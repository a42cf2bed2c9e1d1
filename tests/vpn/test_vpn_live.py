"""The VPN example brought up for real (topologies/vpn.yaml, lab `vpn`: an
IKEv2 pair and a WireGuard gateway), verified five runs in a row, each fault
caught by its checks and by no unrelated one, and torn down without residue,
also after `kill -9` of `up`. A WireGuard pair (tests/vpn/wgpair.yaml, lab
`vpn2`) fails over too. Root only: namespaces and daemons."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from pyroute2 import IPRoute

from lab.apply.netns import inside
from lab.paths import lab_dir
from lab.providers.embedded import saved_plan
from lab.verify.vpn.checks import check_reach, check_tunnel_up
from lab.vpn import ends, monitor_proc
from tests.fabric.helpers import ROOT, lab_cli, lab_json, lab_namespaces


def _named(path: Path, name: str) -> Path:
    """The topology under lab name `name` (a copy when it differs): two runs
    of these tests on one machine each set STACKLAB_VPN_TEST_LAB."""
    data = yaml.safe_load(path.read_text())
    if data["name"] == name:
        return path
    copy = Path(tempfile.mkdtemp(prefix="stacklab-vpn-test-")) / f"{name}.yaml"
    copy.write_text(yaml.safe_dump(data | {"name": name}))
    return copy


LAB = os.environ.get("STACKLAB_VPN_TEST_LAB", "vpn")
TOPOLOGY = _named(ROOT / "topologies" / "vpn.yaml", LAB)
WG_PAIR = Path(__file__).with_name("wgpair.yaml")
BINARIES = ("/usr/lib/ipsec/charon", str(Path("/usr/bin/wireguard-go").resolve()))
VERIFY_TIMEOUT_S = 600

pytestmark = pytest.mark.root


def vpn_daemons(lab: str) -> list[int]:
    """VPN daemons of the lab, wherever they are: by the lab's directory in
    their environment (charon's STRONGSWAN_CONF) or their TUN name (wireguard-go)."""
    names = {e.ifname for v in _specs(lab) for e in ends.all_ends(v)} - {"ipsec0"}
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            exe = os.readlink(proc / "exe")
            env = (proc / "environ").read_bytes()
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if exe in BINARIES and (str(lab_dir(lab)).encode() in env or any(n.encode() in argv for n in names)):
            found.append(int(proc.name))
    return found


def _specs(lab: str):
    plan = saved_plan(lab)
    return plan.vpns if plan else []


@pytest.fixture(scope="module")
def plan() -> Iterator:
    lab_cli("down", "--lab", LAB, check=False)
    lab_cli("up", str(TOPOLOGY), timeout=300)
    try:
        yield saved_plan(LAB)
    finally:
        lab_cli("down", "--lab", LAB, check=False)


def _verdicts(*groups: str) -> dict[str, str]:
    only = [a for g in groups for a in ("--only", g)]
    proc = lab_cli("verify", str(TOPOLOGY), *only, "--format", "json", check=False, timeout=VERIFY_TIMEOUT_S)
    return {c["name"]: c["verdict"] for c in json.loads(proc.stdout)["checks"]}


def test_a_second_up_changes_nothing(plan):
    assert "nothing to change" in lab_cli("up", str(TOPOLOGY), "--dry-run").stdout
    assert "nothing to change" in lab_cli("up", str(TOPOLOGY)).stdout


def test_verify_passes_five_runs_in_a_row(plan):
    for run in range(5):  # bounded: five runs, each bounded by its timeout
        proc = lab_cli("verify", str(TOPOLOGY), "--format", "json", check=False, timeout=VERIFY_TIMEOUT_S)
        checks = json.loads(proc.stdout)["checks"]
        bad = {c["name"]: (c["verdict"], c["evidence"]) for c in checks if c["verdict"] not in ("pass", "skipped")}
        assert proc.returncode == 0 and not bad, (run, bad)
        assert {"vpn.hq.tunnel_up", "vpn.hq.reach", "vpn.hq.failover", "vpn.branch.tunnel_up",
                "vpn.branch.reach"} <= {c["name"] for c in checks}


@pytest.mark.parametrize(("fault", "vpn"), [("vpn-key-mismatch", "hq"), ("vpn-key-mismatch", "branch"),
                                            ("vpn-down", "hq"), ("vpn-down", "branch")])
def test_each_fault_fails_its_vpn_checks_and_no_unrelated_one(plan, fault, vpn):
    other = "branch" if vpn == "hq" else "hq"
    lab_cli("fault", "inject", fault, str(TOPOLOGY), "--server", vpn)
    try:
        verdicts = _verdicts("vpn", "fabric")
    finally:
        lab_cli("fault", "clear", str(TOPOLOGY))
    assert verdicts[f"vpn.{vpn}.tunnel_up"] == "fail" and verdicts[f"vpn.{vpn}.reach"] == "fail", verdicts
    unrelated = {n: v for n, v in verdicts.items() if not n.startswith(f"vpn.{vpn}.")}
    assert unrelated and all(v == "pass" for v in unrelated.values()), unrelated
    assert any(n.startswith(f"vpn.{other}.") for n in unrelated)
    fresh = saved_plan(LAB)
    assert check_tunnel_up(fresh, vpn).verdict == "pass" and check_reach(fresh, vpn).verdict == "pass"


def test_reach_fails_when_the_site_subnet_leaks_into_the_underlay(plan):
    """What the site must not reach, it must not: a ToR route to the site's
    subnet (its public address as next hop) makes the underlay answer it."""
    vpn = plan.vpn("branch")
    tor = next(h for h in plan.hosts if h.role == "tor")
    with inside(tor.namespace):
        ipr = IPRoute()
    with ipr:
        ipr.route("add", dst=vpn.site_subnet, gateway=vpn.site.public_address, proto=4)
        try:
            leaked = check_reach(plan, "branch")
        finally:
            ipr.route("del", dst=vpn.site_subnet, gateway=vpn.site.public_address, proto=4)
    assert leaked.verdict == "fail" and "reachable but must not be" in leaked.evidence, leaked
    again = check_reach(plan, "branch")
    assert again.verdict == "pass", again


def test_failover_fails_without_the_pair_monitor(plan):
    """With nobody to move the tunnel, killing the active leaves the site cut
    off: the check says so (and leaves the pair as planned: `up` restarts all)."""
    from lab.verify.vpn.failover import check_failover

    assert monitor_proc.stop(LAB)
    try:
        result = check_failover(plan, "hq", spec_s=2.0)
    finally:
        lab_cli("up", str(TOPOLOGY), timeout=300)
    assert result.verdict == "fail" and "never" in result.evidence, result
    assert monitor_proc.running(LAB) and check_tunnel_up(saved_plan(LAB), "hq").verdict == "pass"


def test_logs_metrics_and_rotated_keys_on_the_running_tunnels(plan, tmp_path):
    """Logs: the daemons' logs, stamped, no key. Rotation: both VPN secrets
    rotated under a ping from each site, the running ends re-keyed (no
    restart): IKEv2 keeps its SA, WireGuard loses at most its keepalive
    interval; `up` then finds nothing to change. Metrics: tunnel up, serving,
    bytes (the pings went through)."""
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.parser import text_string_to_metric_families

    from lab.ops.logs import read_archive
    from lab.ops.secret_store import load
    from lab.report.collectors.vpn import vpn_collector
    from lab.verify.vpn.failover import PROBE_INTERVAL_S, _start_probe, _target, _wait_ready

    archive = tmp_path / "vpn-logs.tar.zst"
    lab_cli("logs", "collect", "--lab", LAB, "--role", "gateway", "--from", "-1h", "-o", str(archive))
    members = read_archive(archive)
    charon = members[f"{LAB}/daemons/vpn/vpn.hq.1/charon.log"].decode()
    assert charon.startswith(time.strftime("%Y-")) and "IKE_SA" in charon, charon[:300]
    assert f"{LAB}/daemons/vpn/vpn.branch/wireguard-go.log" in members
    blob = b"".join(members.values())
    assert load(LAB, "vpn-hq").value["psk"].encode() not in blob
    assert not [n for n in members if n.endswith((".conf", ".vici", ".pid"))]
    daemons = sorted(vpn_daemons(LAB))
    probes = {n: _start_probe(plan.vpn(n), _target(plan, plan.vpn(n)), max_s=30) for n in ("hq", "branch")}
    assert all(_wait_ready(p) for p in probes.values())
    rotated = lab_json("secrets", "rotate", "--all", "--lab", LAB)["rotated"]
    lost = {}
    for name, proc in probes.items():
        out, _ = proc.communicate("rotated\n", timeout=60)
        sent = json.loads(out.strip().splitlines()[-1])["probes"]
        lost[name] = max((len(run) for run in "".join("x" if not p["ok"] else " " for p in sent).split()),
                         default=0) * PROBE_INTERVAL_S
    applied = {r["name"]: r["applied"] for r in rotated}
    assert applied["vpn-hq"] == [f"{h}: re-keyed" for h in ("site.hq", "vpn.hq.2", "vpn.hq.1")], applied
    assert sorted(vpn_daemons(LAB)) == daemons  # nothing restarted
    assert lost["hq"] == 0 and lost["branch"] <= 1.5, lost  # longest outage (s) while re-keyed
    fresh = saved_plan(LAB)
    assert all(check_tunnel_up(fresh, n).verdict == "pass" for n in ("hq", "branch"))
    assert "nothing to change" in lab_cli("up", str(TOPOLOGY), "--dry-run").stdout
    registry = CollectorRegistry(auto_describe=False)  # after the pings: bytes went through both tunnels
    registry.register(vpn_collector(lab_dir(LAB), LAB))
    got = {(s.name, s.labels.get("vpn"), s.labels.get("instance")): s.value
           for f in text_string_to_metric_families(generate_latest(registry).decode()) for s in f.samples}
    assert got[("stacklab_vpn_tunnel_up", "hq", None)] == got[("stacklab_vpn_tunnel_up", "branch", None)] == 1
    assert got[("stacklab_vpn_instance_serving", "hq", "vpn.hq.1")] == 1
    assert got[("stacklab_vpn_receive_bytes_total", "branch", "vpn.branch")] > 0
    assert got[("stacklab_vpn_transmit_bytes_total", "hq", "vpn.hq.1")] > 0


def test_down_leaves_no_daemon_socket_tun_or_file(plan):
    daemons = vpn_daemons(LAB)
    monitor = monitor_proc.running(LAB)
    assert len(daemons) == 5 and monitor, (daemons, monitor)  # 3 charon, 2 wireguard-go
    tuns = {e.ifname for v in plan.vpns for e in ends.all_ends(v)} - {"ipsec0"}
    lab_cli("down", "--lab", LAB)
    assert [p for p in [*daemons, monitor] if Path(f"/proc/{p}").exists() and _not_zombie(p)] == []
    assert vpn_daemons(LAB) == [] and lab_namespaces(LAB) == [] and not lab_dir(LAB).exists()
    sockets = Path("/run/wireguard")
    assert not sockets.exists() or not {p.stem for p in sockets.iterdir()} & tuns
    lab_cli("up", str(TOPOLOGY), timeout=300)  # the module fixture tears down again


def _not_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_a_wireguard_pair_fails_over_and_back():
    lab_cli("down", "--lab", "vpn2", check=False)
    lab_cli("up", str(WG_PAIR), timeout=300)
    try:
        for _ in range(2):  # inconclusive (a host too busy to judge: other tests) measures once more
            proc = lab_cli("verify", str(WG_PAIR), "--only", "vpn", "--format", "json", check=False,
                           timeout=VERIFY_TIMEOUT_S)
            checks = {c["name"]: (c["verdict"], c["measured"], c["evidence"])
                      for c in json.loads(proc.stdout)["checks"]}
            if checks["vpn.dc.failover"][0] != "inconclusive":
                break
        assert checks["vpn.dc.failover"][0] == "pass", checks["vpn.dc.failover"]
        assert all(c[0] == "pass" for c in checks.values()), checks
    finally:
        lab_cli("down", "--lab", "vpn2", check=False)
    assert vpn_daemons("vpn2") == [] and lab_namespaces("vpn2") == []


def test_down_after_kill_9_of_up_leaves_nothing(tmp_path):
    data = yaml.safe_load(WG_PAIR.read_text()) | {"name": "vpn3"}
    data["underlay"] = {"subnet": "198.18.6.0/24"}
    topo = tmp_path / "vpn3.yaml"
    topo.write_text(yaml.safe_dump(data))
    lab_cli("down", "--lab", "vpn3", check=False)
    proc = subprocess.Popen([sys.executable, "-m", "lab", "up", str(topo)], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None and len(_daemons_in("vpn3")) < 2:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    caught = _daemons_in("vpn3")
    assert caught, "up was not caught with a VPN daemon running"
    topo.unlink()
    lab_cli("down", "--lab", "vpn3")
    assert [p for p in caught if _not_zombie(p)] == []
    assert lab_namespaces("vpn3") == [] and not lab_dir("vpn3").exists()


def _daemons_in(lab: str) -> list[int]:
    """VPN daemons in the lab's namespaces (by namespace inode: no plan saved yet)."""
    from lab.vpn import daemon

    return [pid for ns in lab_namespaces(lab) for binary in BINARIES for pid in daemon.in_namespace(ns, binary)]
