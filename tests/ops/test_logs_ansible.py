"""`lab logs collect TOPOLOGY -i INVENTORY`: the Ansible role `log_collect`
run for real against namespace targets (as tests/ansible does for the other
roles): by role and time window, into the same archive layout and manifest
as the embedded lab; each server's BMC read through Redfish with the
credentials of the inventory (a vault value for hv1, a 0600 file for mux1),
which appear in no archive and no runner artifact.

The targets share this machine's filesystem: the log files live in a
scratch directory; the kernel snapshot is taken inside each target's
namespace by `python -m lab.ops.snapshot`; the BMC is the lab's Redfish
emulator, listening in the ToR's namespace on the underlay.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from lab.compute.daemons import ensure_daemons
from lab.model import parse_topology
from lab.ops import htpasswd
from lab.ops.bmc import answers
from lab.ops.logs import read_archive
from lab.paths import lab_dir
from lab.plan.model import BmcPlan, LifecycleHostPlan
from lab.plan.planner import build_plan
from tests.ansible.ansb_targets import (
    SECRET,
    NetnsLab,
    build_lab,
    need_root,
    remove_namespaces,
    vault_secret,
    write_inventory,
)
from tests.ansible.ansb_targets import TOPOLOGY as ANSB_TOPOLOGY
from tests.fabric.helpers import lab_cli

pytestmark = pytest.mark.root
LAB = "hlhans"  # the Ansible tests' topology under a lab name of this area's
TOPOLOGY = ANSB_TOPOLOGY.replace("name: ansb", f"name: {LAB}").replace("RDMA", "false")
BMC_PORTS = {"hv1": 8001, "mux1": 8002}
OLD, NEW = time.time() - 7200, time.time() - 60


def stamp(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


@pytest.fixture(scope="module")
def targets() -> NetnsLab:
    need_root()
    prefix = f"hlh-{secrets.token_hex(3)}"
    try:
        yield build_lab(prefix)
    finally:
        remove_namespaces(prefix)
        shutil.rmtree(lab_dir(LAB), ignore_errors=True)  # the runner's state of these runs


@pytest.fixture(scope="module")
def bmc_in_tor(targets: NetnsLab, tmp_path_factory):
    """The lab's Redfish emulator serving hv1's and mux1's BMCs from the ToR's namespace."""
    work = tmp_path_factory.mktemp("bmc")
    ensure_daemons()  # the emulator's libvirt driver asks libvirtd on every request
    plan = build_plan(parse_topology(TOPOLOGY))
    bmcs = [BmcPlan(server=s, address="198.18.0.1", port=p, namespace=targets.namespaces[s])
            for s, p in BMC_PORTS.items()]
    plan = plan.model_copy(update={"lifecycle_host": LifecycleHostPlan(namespace=targets.namespaces["tor"],
                                                                       bmcs=bmcs)})
    auth = work / "bmc.htpasswd"
    auth.write_text(htpasswd.entries([("stacklab-admin", SECRET)]))
    config = work / "emulator.json"
    config.write_text(json.dumps({"lab": plan.lab, "mark": plan.mark, "uri": "qemu:///system",
                                  "auth_file": str(auth), "state_dir": str(work / "state"),
                                  "namespace": targets.namespaces["tor"],
                                  "plan": plan.model_dump(mode="json")}))
    log = (work / "emulator.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "lab.ops.bmc_server", str(config), plan.mark],
                            stdout=log, stderr=log)  # listening in the ToR's namespace (config)
    try:
        deadline = time.monotonic() + 60
        while not all(answers(targets.namespaces[s], "198.18.0.1", p) for s, p in BMC_PORTS.items()):
            assert proc.poll() is None and time.monotonic() < deadline, (work / "emulator.log").read_text()
            time.sleep(0.3)
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        log.close()


def write_logs(files: Path) -> dict[str, list[dict]]:
    """Logs on the 'hosts' (old and new stamped lines, a leaked secret), as sources by role."""
    (files / "hv1").mkdir(parents=True, exist_ok=True)
    (files / "tor").mkdir(parents=True, exist_ok=True)
    (files / "hv1" / "libvirtd.log").write_text(
        f"{stamp(OLD)} 1: info : old line\n{stamp(NEW)} 2: info : new line leaking {SECRET}\n")
    (files / "hv1" / "qemu").mkdir(exist_ok=True)
    (files / "hv1" / "qemu" / "vm1.log").write_text(f"{stamp(NEW)} starting up\n")
    (files / "tor" / "frr.log").write_text(f"{stamp(NEW)} BGP: neighbor up\n")
    return {"all": [{"name": "stacklab-plan.json", "path": str(files / "{{ inventory_hostname }}" / "plan.json")}],
            "compute": [{"name": "libvirtd.log", "path": str(files / "hv1" / "libvirtd.log")},
                        {"name": "qemu", "path": str(files / "hv1" / "qemu" / "*.log")}],
            "mux": [{"name": "frr.log", "path": str(files / "mux1" / "frr.log")}],
            "tor": [{"name": "frr.log", "path": str(files / "tor" / "frr.log")}]}


@pytest.fixture(scope="module")
def inventory(targets: NetnsLab, bmc_in_tor, tmp_path_factory) -> tuple[Path, Path, Path]:
    work = tmp_path_factory.mktemp("inv")
    sources = write_logs(work / "files")
    hosts_yml, _ = write_inventory(targets, work / "inventory", {
        "log_collect_sources": sources, "log_collect_snapshot": [sys.executable, "-m", "lab.ops.snapshot"],
        "log_collect_remote_dir": str(work), "log_collect_bmc_validate_certs": False})
    data = yaml.safe_load(hosts_yml.read_text())
    pwfile = work / "mux1-bmc-password"
    pwfile.write_text(SECRET + "\n")
    pwfile.chmod(0o600)
    bmc = {"bmc_address": "198.18.0.1", "bmc_scheme": "http", "bmc_username": "stacklab-admin"}
    data["all"]["hosts"]["hv1"] |= bmc | {"bmc_port": BMC_PORTS["hv1"], "bmc_password": "{{ vault_bmc_password }}"}
    data["all"]["hosts"]["mux1"] |= bmc | {"bmc_port": BMC_PORTS["mux1"], "bmc_password_file": str(pwfile)}
    hosts_yml.write_text(yaml.safe_dump(data))
    password = vault_secret(work / "inventory", {"baseline_secrets": {}, "vault_bmc_password": SECRET})
    topo = work / f"{LAB}.yaml"
    topo.write_text(TOPOLOGY)
    return topo, hosts_yml, password


def run(inventory, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    topo, hosts_yml, password = inventory
    return lab_cli("logs", "collect", str(topo), "-i", str(hosts_yml), "--vault-password-file", str(password),
                   *args, check=False, timeout=600)


def test_real_hosts_give_the_same_archive_by_role_and_window(inventory, tmp_path):
    out = tmp_path / "real.tar.zst"
    proc = run(inventory, tmp_path, "--role", "compute", "--role", "tor", "--from", "-1h", "-o", str(out),
               "--format", "json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    manifest = json.loads(proc.stdout)["manifest"]
    members = read_archive(out)
    assert json.loads(members[f"{LAB}/manifest.json"]) == manifest
    assert {n.split("/")[2] for n in members if n.startswith(f"{LAB}/hosts/")} == {"hv1", "tor"}  # mux1: not asked
    kernel = json.loads(members[f"{LAB}/hosts/hv1/kernel.json"])
    assert {"ifname": "eth0", "cidr": "198.18.0.11/24"} in kernel["addresses"]  # read inside hv1's namespace
    log = members[f"{LAB}/daemons/hv1/libvirtd.log"].decode()
    assert "new line" in log and "old line" not in log  # the window, by each line's stamp
    assert members[f"{LAB}/daemons/hv1/qemu/vm1.log"].decode().endswith("starting up\n")
    assert "BGP: neighbor up" in members[f"{LAB}/daemons/tor/frr.log"].decode()
    taken = {t["name"]: t for t in manifest["taken"]}
    assert taken["daemons/hv1/libvirtd.log"]["selected_by"] == "lines"
    assert taken["daemons/hv1/libvirtd.log"]["source"].startswith("hv1:") and "/hv1/libvirtd.log" in \
        taken["daemons/hv1/libvirtd.log"]["source"]
    bmc = json.loads(members[f"{LAB}/hosts/hv1/bmc.json"])
    assert bmc["answered"] and [s["name"] for s in bmc["systems"]] == [f"{LAB}.hv1"]
    assert bmc["systems"][0]["power"] == "On" and bmc["managers"][0]["name"] == "hv1-BMC"
    missing = {m["name"]: m["missing"] for m in manifest["missing"]}
    assert "no such file" in missing["daemons/hv1/stacklab-plan.json"]
    assert manifest["inventory_from"].startswith("ansible inventory")


def test_the_bmc_credentials_never_leave_the_vault_or_their_file(inventory, tmp_path):
    out = tmp_path / "all.tar.zst"
    proc = run(inventory, tmp_path, "-o", str(out), "--format", "json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    members = read_archive(out)
    bmc = json.loads(members[f"{LAB}/hosts/mux1/bmc.json"])  # through the 0600 password file
    assert bmc["answered"] and [s["name"] for s in bmc["systems"]] == [f"{LAB}.mux1"]
    blob = b"".join(members.values()) + proc.stdout.encode() + proc.stderr.encode()
    assert SECRET.encode() not in blob
    assert b"[REDACTED]" in members[f"{LAB}/daemons/hv1/libvirtd.log"]  # masked on the host already
    artifacts = lab_dir(LAB) / "ansible"
    leaks = [p for p in artifacts.rglob("*") if p.is_file() and SECRET.encode() in p.read_bytes()]
    assert leaks == []
    assert not (artifacts / "logs-staging").exists()


def test_a_readable_password_file_and_bad_input_are_refused(inventory, tmp_path):
    pwfile = next(p for p in inventory[1].parent.parent.rglob("mux1-bmc-password"))
    pwfile.chmod(0o644)
    try:
        out = tmp_path / "x.tar.zst"
        proc = run(inventory, tmp_path, "--role", "mux", "-o", str(out), "--format", "json")
        manifest = json.loads(proc.stdout)["manifest"]
        why = next(m["missing"] for m in manifest["missing"] if m["name"] == "hosts/mux1/")
        assert "must exist with mode 0600" in why
        assert not [n for n in read_archive(out) if n.startswith(f"{LAB}/hosts/mux1/")]
    finally:
        pwfile.chmod(0o600)
    bad = run(inventory, tmp_path, "--lab", LAB, "-o", str(tmp_path / "y.tar.zst"))
    assert bad.returncode == 2 and "needs the topology file" in " ".join(bad.stderr.split())
    missing_inv = lab_cli("logs", "collect", str(inventory[0]), "-i", str(tmp_path / "none.yml"),
                          "-o", str(tmp_path / "z.tar.zst"), check=False)
    assert missing_inv.returncode == 2 and "does not exist" in missing_inv.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.tar.zst"]
