"""topologies/storage-tiers.yaml brought up as it is (lab storage): two real
VMs (QEMU TCG) whose data disks carry the hypervisor IOPS cap of their tier
exactly as planned (standard 500, premium none), `lab exec`, `lab shell` and
`lab vm exec` run commands in a VM through its run-command agent with the
exit code passed back, and `lab down` leaves no domain, namespace or file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from lab.model import load_topology
from lab.paths import lab_dir, lock_path
from lab.plan.planner import build_plan
from tests.compute.conftest import require_vm_host
from tests.fabric.helpers import ROOT, lab_cli, lab_namespaces

TOPOLOGY = ROOT / "topologies" / "storage-tiers.yaml"
LAB = "storage"

pytestmark = [pytest.mark.root, pytest.mark.slow]


@pytest.fixture(scope="module")
def plan():
    require_vm_host()
    lab_cli("down", "--lab", LAB, check=False, timeout=600)
    lab_cli("up", str(TOPOLOGY), timeout=900)
    try:
        yield build_plan(load_topology(TOPOLOGY))
    finally:
        lab_cli("down", str(TOPOLOGY), check=False, timeout=600)


def _domain_caps(name: str) -> dict[str, int | None]:
    """Each disk's total_iops_sec in the running domain's XML (None: uncapped)."""
    from lab.compute.daemons import connect

    conn = connect()
    try:
        root = ET.fromstring(conn.lookupByName(name).XMLDesc())
    finally:
        conn.close()
    caps = {}
    for disk in root.iter("disk"):
        iops = disk.find("iotune/total_iops_sec")
        caps[disk.find("target").get("dev")] = int(iops.text) if iops is not None else None
    return caps


def test_every_data_disk_has_the_iops_cap_of_its_tier_as_planned(plan):
    planned = {vm.name: vm.data_disks for vm in plan.endpoints if vm.kind == "vm"}
    assert set(planned) == {"db1", "db2"}
    tiers = {(d.tier, d.iops_cap) for disks in planned.values() for d in disks}
    assert tiers == {("standard", 500), ("premium", None)}  # both tiers, so the check can tell them apart
    for vm, disks in planned.items():
        caps = _domain_caps(f"{LAB}.{vm}")
        assert {d.dev: caps.get(d.dev, "missing") for d in disks} == {d.dev: d.iops_cap for d in disks}, vm
        assert caps["vda"] is None  # the OS disk is never capped
    status = json.loads(lab_cli("status", "--lab", LAB, "--format", "json").stdout)
    shown = {(vm["name"], d["name"]): d["iops_cap"] for vm in status["vms"] for d in vm["disks"] if d["name"] != "os"}
    assert shown == {(vm, d.name): d.iops_cap for vm, disks in planned.items() for d in disks}


def test_exec_runs_in_a_vm_through_its_agent_and_passes_the_exit_code(plan):
    done = lab_cli("exec", LAB, "db2", "--", "sh", "-c", "hostname; exit 3", check=False, timeout=180)
    assert done.returncode == 3 and done.stdout.strip() == "db2", done.stderr
    disks = lab_cli("exec", LAB, "db1", "--", "cat", "/proc/partitions", timeout=180).stdout
    assert {"vda", "vdb", "vdc"} <= set(disks.split())  # the OS disk and both data disks are in the guest
    by_name = lab_cli("vm", "exec", "db1", "--lab", LAB, "--", "hostname", timeout=180)
    by_file = lab_cli("vm", "exec", "db1", "-t", str(TOPOLOGY), "--", "hostname", timeout=180)
    assert by_name.stdout.strip() == by_file.stdout.strip() == "db1"


def test_shell_on_a_vm_runs_each_line_through_the_agent(plan):
    done = subprocess.run([sys.executable, "-m", "lab", "shell", LAB, "db1"], input="hostname\nsh -c 'exit 4'\nexit\n",
                          env={**os.environ, "SHELL": "/bin/sh"}, cwd=ROOT, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 4 and done.stdout.split() == ["db1"], (done.stdout, done.stderr)


def test_completion_offers_the_labs_vms(plan):
    env = {**os.environ, "_LAB_COMPLETE": "complete_bash", "COMP_WORDS": f"lab exec {LAB} db", "COMP_CWORD": "3"}
    done = subprocess.run([sys.executable, "-m", "lab"], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=60, check=True)
    assert done.stdout.split() == ["db1", "db2"]


def test_a_vm_the_lab_does_not_have_is_refused(plan):
    done = lab_cli("exec", LAB, "db3", "--", "true", check=False)
    assert done.returncode == 2 and "has no node 'db3'" in done.stderr and "db1" in done.stderr


def test_down_leaves_no_domain_namespace_or_file(plan):
    from lab.compute.daemons import connect

    lab_cli("down", str(TOPOLOGY), timeout=600)
    conn = connect()
    try:
        domains = [d.name() for d in conn.listAllDomains() if d.name().startswith(f"{LAB}.")]
    finally:
        conn.close()
    assert domains == []
    assert lab_namespaces(LAB) == []
    assert not lab_dir(LAB).exists() and not lock_path(LAB).exists()
