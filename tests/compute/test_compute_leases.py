"""Disk leases on real running VMs: the seed's infinite blob lease."""

from __future__ import annotations

import pytest

from lab.compute import disks, operations, paths, status

pytestmark = [pytest.mark.root, pytest.mark.slow]


def test_deleting_an_attached_disk_is_refused(booted):
    plan, lab_dir, _ = booted
    disk = paths.data_disk(lab_dir, "cpt-a", "std")
    with pytest.raises(disks.LeaseError, match="leased to running VM 'cpt-a'"):
        operations.delete_disk_file(lab_dir, disk)
    assert disk.exists()


def test_attaching_a_disk_another_running_vm_holds_is_refused(booted):
    plan, lab_dir, _ = booted
    disk = paths.data_disk(lab_dir, "cpt-a", "std")
    with pytest.raises(disks.LeaseError, match="leased to VM 'cpt-a'"):
        operations.attach_disk_file(plan.lab, lab_dir, "cpt-b", disk, "stolen",
                                    "vdb")
    assert disks.read_lease(lab_dir, disk)["vm"] == "cpt-a"


def test_attached_disk_without_lease_is_reported_inconsistent(booted):
    plan, lab_dir, _ = booted
    disk = paths.data_disk(lab_dir, "cpt-a", "prem")
    saved = paths.lease_file(lab_dir, disk).read_text()
    disks.release_lease(lab_dir, disk)  # fault: the lease record is lost
    try:
        assert status.inconsistent_disks(plan.lab, lab_dir) == [f"cpt-a/prem ({disk})"]
        row = next(r for r in status.vm_status(plan.lab, lab_dir) if r["vm"] == "cpt-a")
        assert not row["leases_consistent"]
    finally:
        paths.lease_file(lab_dir, disk).write_text(saved)
    assert status.inconsistent_disks(plan.lab, lab_dir) == []
