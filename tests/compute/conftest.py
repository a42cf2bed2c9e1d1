"""Compute fixtures: one boot of two VMs (cpt-a with a 500-IOPS and an uncapped
data disk, cpt-b with a provisioning script) shared by every compute test,
plugged into a stand-in fabric (namespace cpt.hv1, bridge br1001)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.model import load_topology
from lab.plan.model import Plan
from lab.plan.planner import build_plan

TOPOLOGY = Path(__file__).with_name("topology.yaml")
NEEDED = ("libvirtd", "virtlogd", "qemu-system-x86_64", "qemu-img", "fio", "dpkg-deb", "mke2fs")


def require_vm_host() -> None:
    """Root and the libvirt/QEMU tools; in CI a missing piece fails loudly."""
    missing = [b for b in NEEDED if shutil.which(b) is None]
    if os.geteuid() != 0:
        missing.insert(0, "root")
    if missing:
        message = f"VM tests need {', '.join(missing)} (scripts/install-deps.sh)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture
def vm_host() -> None:
    require_vm_host()


FIRST_ENSURE: dict[str, list[dict]] = {}  # the dry run and the real first ensure_vms of `booted`


@pytest.fixture(scope="session")
def cpt_plan() -> Plan:
    return build_plan(load_topology(TOPOLOGY))


@pytest.fixture(scope="session")
def booted(cpt_plan: Plan) -> Iterator[tuple[Plan, Path, list]]:
    """The two VMs, up and provisioned; removed (with namespace) at the end."""
    require_vm_host()
    from lab.compute import testbed, vms
    from lab.compute.paths import default_lab_dir

    lab_dir = default_lab_dir(cpt_plan.lab)
    journal: list[tuple[str, str, str]] = []
    with testbed.testbed(cpt_plan, lab_dir):
        FIRST_ENSURE["dry"] = [c.to_json() | {"outcome": ""} for c in vms.diff_vms(cpt_plan, lab_dir)]
        changes = vms.ensure_vms(cpt_plan, lab_dir, lambda *rec: journal.append(rec))
        FIRST_ENSURE["done"] = [c.to_json() | {"outcome": ""} for c in changes]
        yield cpt_plan, lab_dir, [str(c) for c in changes] + [f"journal {j}" for j in journal]


@pytest.fixture
def first_ensure(booted) -> dict[str, list[dict]]:
    """What the dry run before `booted`'s first ensure_vms listed, and what it did."""
    return FIRST_ENSURE
