"""`lab logs collect` on a running netns lab: what is taken, by role and
window; no secret in the archive; after a failed verify and after kill -9
of `up`; bad input writes nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from lab.apply.journal import Journal
from lab.ops.logs import read_archive
from lab.ops.secret_store import Secret, save
from lab.paths import lab_dir
from tests.fabric.helpers import ROOT, lab_cli, lab_namespaces

from .conftest import LAB, TOPOLOGY

pytestmark = pytest.mark.root


def collect(tmp_path: Path, *args: str, name: str = "out.tar.zst") -> tuple[dict, dict[str, bytes]]:
    out = tmp_path / name
    proc = lab_cli("logs", "collect", *args, "-o", str(out), "--format", "json")
    data = json.loads(proc.stdout)
    members = read_archive(out)
    assert json.loads(members[f"{data['manifest']['lab']}/manifest.json"]) == data["manifest"]
    return data["manifest"], members


def test_all_roles_take_snapshots_journal_lb_state_and_bpf_maps(ops_lab, tmp_path):
    manifest, members = collect(tmp_path, "--lab", LAB)
    names = set(members)
    assert {f"{LAB}/lab/resources.jsonl", f"{LAB}/lab/plan.json", f"{LAB}/mux/bpf-maps.json",
            f"{LAB}/hosts/hv1/kernel.json", f"{LAB}/hosts/gw.red/kernel.json"} <= names
    hv1 = json.loads(members[f"{LAB}/hosts/hv1/kernel.json"])
    vx = next(link for link in hv1["links"] if link["kind"] == "vxlan")
    assert any(f["ifname"] == vx["name"] and f["dst"] == "198.18.0.12" for f in hv1["fdb"])
    gw = json.loads(members[f"{LAB}/hosts/gw.red/kernel.json"])
    assert any("table" in obj and obj["table"]["name"] == "stacklab" for obj in gw["nftables"])
    maps = json.loads(members[f"{LAB}/mux/bpf-maps.json"])
    assert maps[0]["xdp_attached"] and {b["name"] for b in maps[0]["backends"]} == {"web1", "web2"}
    assert manifest["inventory_from"] == "saved plan"
    for host in ("tor", "mux1"):  # BGP to the MUX: FRR on both, logging under <lab_dir>/frr/<host>/
        log = members[f"{LAB}/daemons/frr/{host}/frr.log"].decode()
        assert "BGP" in log or "bgp" in log, log[:300]
        assert f"{LAB}/daemons/frr/{host}/frr.conf" in members
    assert not [m for m in manifest["missing"] if m["name"].startswith("daemons/frr")]
    hv1_bmc = json.loads(members[f"{LAB}/hosts/hv1/bmc.json"])
    assert hv1_bmc["answered"] and {s["name"] for s in hv1_bmc["systems"]} == {"hv1", "vm1"}
    assert f"{LAB}/hosts/tor/bmc.json" not in members  # the ToR has no BMC in the plan


def test_a_role_takes_only_its_hosts(ops_lab, tmp_path):
    manifest, members = collect(tmp_path, "--lab", LAB, "--role", "mux")
    hosts = {n.split("/")[2] for n in members if n.startswith(f"{LAB}/hosts/")}
    assert hosts == {"mux1"}
    assert f"{LAB}/mux/bpf-maps.json" in members and f"{LAB}/lab/resources.jsonl" in members
    assert manifest["roles"] == ["mux"]


def test_the_window_selects_stamped_lines_and_files_by_mtime(ops_lab, tmp_path):
    log = lab_dir(LAB) / "lb" / "probed.log"
    old = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 7200))
    new = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    saved = log.read_bytes()
    try:
        log.write_text(f"{old} round failed: old\n{new} round ok: new\n  continuation of new\n")
        manifest, members = collect(tmp_path, "--lab", LAB, "--role", "mux", "--from", "-1h")
        assert members[f"{LAB}/mux/probed.log"] == f"{new} round ok: new\n  continuation of new\n".encode()
        entry = next(t for t in manifest["taken"] if t["name"] == "mux/probed.log")
        assert entry["selected_by"] == "lines"
        os.utime(lab_dir(LAB) / "plan.json", (time.time() - 7200,) * 2)
        manifest, members = collect(tmp_path, "--lab", LAB, "--role", "mux", "--from", "-1h", name="b.tar.zst")
        assert f"{LAB}/lab/plan.json" not in members
        gone = next(m for m in manifest["missing"] if m["name"] == "lab/plan.json")
        assert gone["selected_by"] == "mtime" and "outside" in gone["missing"]
        manifest, members = collect(tmp_path, "--lab", LAB, "--to", "-30m", name="c.tar.zst")
        assert not [n for n in members if "/hosts/" in n]
        assert any("after the end of the window" in m["missing"] for m in manifest["missing"])
    finally:
        log.write_bytes(saved)
        os.utime(lab_dir(LAB) / "plan.json")


def test_a_planted_secret_never_reaches_the_archive(ops_lab, tmp_path):
    planted = "PlantedSecret-4f1c9e"
    save(LAB, Secret("planted", "test", time.time(), {"password": planted}))
    log = lab_dir(LAB) / "lb" / "probed.log"
    key = lab_dir(LAB) / "lb" / "id_ed25519"
    saved = log.read_bytes()
    try:
        with log.open("a") as fh:
            fh.write(f"leaked {planted} into a log\nbmc password=hunter2hunter\n")
        key.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nQUJD\n-----END OPENSSH PRIVATE KEY-----\n")
        manifest, members = collect(tmp_path, "--lab", LAB)
        blob = b"".join(members.values())
        assert planted.encode() not in blob and b"hunter2hunter" not in blob and b"QUJD" not in blob
        assert not [n for n in members if "secrets" in n or n.endswith("id_ed25519")]
        assert manifest["redactions"] >= 2
        assert any(m["name"] == "mux/id_ed25519" and "secret" in m["missing"] for m in manifest["missing"])
    finally:
        log.write_bytes(saved)
        key.unlink(missing_ok=True)
        (lab_dir(LAB) / "secrets" / "planted.json").unlink(missing_ok=True)


def test_collects_the_evidence_of_a_failed_verify(ops_lab, tmp_path):
    lab_cli("fault", "inject", "fdb-missing", str(TOPOLOGY))
    try:
        failed = lab_cli("verify", str(TOPOLOGY), "--only", "fabric", "--format", "json", check=False,
                         timeout=300)
        assert failed.returncode == 1
    finally:
        lab_cli("fault", "clear", str(TOPOLOGY))
    _, members = collect(tmp_path, str(TOPOLOGY))
    latest = json.loads(members[f"{LAB}/verify/latest.json"])
    assert not latest["passed"]
    assert any(c["verdict"] == "fail" for c in latest["checks"])


def test_collects_from_the_journal_after_kill_9_of_up(tmp_path):
    data = yaml.safe_load(TOPOLOGY.read_text())
    data["name"] = "opsk"
    data["vms"] = [v for v in data["vms"] if v.get("kind") == "netns"]
    topo = tmp_path / "opsk.yaml"
    topo.write_text(yaml.safe_dump(data))
    proc = subprocess.Popen([sys.executable, "-m", "lab", "up", str(topo)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while len(Journal("opsk").resources("netns")) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        (lab_dir("opsk") / "plan.json").unlink(missing_ok=True)  # as if killed before the end
        manifest, members = collect(tmp_path, "--lab", "opsk")
        assert manifest["inventory_from"] == "journal"
        journaled = {r.name for r in Journal("opsk").resources("netns")}
        assert {h["namespace"] for h in manifest["hosts"]} == journaled
        snaps = [n for n in members if n.endswith("/kernel.json")]
        assert snaps and all(h["role"] == "unknown" for h in manifest["hosts"])
        assert "opsk/lab/resources.jsonl" in members
    finally:
        lab_cli("down", "--lab", "opsk", check=False)
    assert lab_namespaces("opsk") == []


def test_vm_serial_qemu_and_provisioning_logs_are_taken(ops_lab, tmp_path):
    manifest, members = collect(tmp_path, "--lab", LAB, "--role", "vm")
    assert b"Linux version" in members[f"{LAB}/vms/vm1/serial.log"]
    assert f"{LAB}/vms/vm1/provision.json" in members
    assert f"{LAB}.vm1" in members[f"{LAB}/vms/vm1/qemu.log"].decode()  # QEMU's own log of the domain


def test_journaled_domains_are_taken_without_a_plan(ops_lab, tmp_path):
    """After kill -9 of up the journal names the domains; their files are taken."""
    vm_dir = lab_dir(LAB) / "compute" / "vmx"
    vm_dir.mkdir(parents=True)
    journal = Journal(LAB)
    (vm_dir / "serial.log").write_text("[    0.000000] Linux version 6.1\nlogin:\n")
    (vm_dir / "provision.json").write_text('{"state": "succeeded"}')
    saved = journal.path.read_bytes()
    plan = lab_dir(LAB) / "plan.json"
    plan_saved = plan.read_bytes()
    try:
        journal.record("domain", f"{LAB}.vmx")
        plan.unlink()  # the inventory now comes from the journal, which names the domain
        manifest, members = collect(tmp_path, "--lab", LAB, "--role", "vm")
        assert members[f"{LAB}/vms/vmx/serial.log"].startswith(b"[    0.000000] Linux version")
        assert f"{LAB}/vms/vmx/provision.json" in members
        qemu = next(m for m in manifest["missing"] if m["name"] == "vms/vmx/qemu.log")
        assert qemu["missing"] == "file does not exist"
    finally:
        journal.path.write_bytes(saved)
        plan.write_bytes(plan_saved)
        for p in vm_dir.iterdir():
            p.unlink()
        vm_dir.rmdir()


@pytest.mark.parametrize(("args", "code", "message"), [
    (("--lab", LAB, "--role", "storage"), 2, "--role 'storage' is not a role"),
    (("--lab", LAB, "--from", "-1h", "--to", "-2h"), 2, "is after --to"),
    (("--lab", LAB, "--from", "yesterday"), 2, "--from 'yesterday' is not a time"),
    (("--lab", "nosuchlab"), 4, "no lab nosuchlab; labs here:"),
])
def test_bad_input_exits_with_a_clear_message_and_writes_nothing(ops_lab, tmp_path, args, code, message):
    out = tmp_path / "bad.tar.zst"
    proc = lab_cli("logs", "collect", *args, "-o", str(out), check=False)
    assert proc.returncode == code
    assert message in " ".join(proc.stderr.split())
    assert list(tmp_path.iterdir()) == []
