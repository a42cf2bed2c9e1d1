"""Pure parts of compute (no root, no VM): leases, domain XML, the fio
collector's parsing and the IOPS check's verdicts."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lab.compute import disks, domain_xml, paths, rootfs
from lab.compute.domain_xml import DiskSpec, DomainSpec
from lab.model import load_topology
from lab.plan.planner import build_plan
from lab.verify.storage import iops as iops_check

TOPOLOGY = Path(__file__).with_name("topology.yaml")
COLLECTOR = Path(__file__).resolve().parents[2] / "collectors" / "fio_iops.py"


def _spec(tmp_path: Path, vips: list[str] | None = None) -> DomainSpec:
    plan = build_plan(load_topology(TOPOLOGY))
    vm = plan.endpoint("cpt-a")
    disks_ = [DiskSpec("os", tmp_path / "os.qcow2", "vda"),
              DiskSpec("std", tmp_path / "std.qcow2", "vdb", 500),
              DiskSpec("prem", tmp_path / "prem.qcow2", "vdc", None)]
    return DomainSpec(plan.lab, plan.mark, vm, "qemu", tmp_path / "k", tmp_path / "i",
                      tmp_path / "serial.log", tmp_path / "a.sock", disks_, vips or [])


def test_domain_xml_carries_caps_mark_scaled_memory_and_addressing(tmp_path):
    xml = domain_xml.domain_xml(_spec(tmp_path, ["192.0.2.10", "192.0.2.11"]))
    assert domain_xml.read_metadata(xml)["mark"] == "stacklab:cpt"
    assert domain_xml.read_metadata(xml)["vm"] == "cpt-a"
    caps = {d["name"]: d["iops_cap"] for d in domain_xml.attached_disks(xml)}
    assert caps == {"os": None, "std": 500, "prem": None}
    assert "<memory unit=\"MiB\">224</memory>" in xml
    assert "stacklab.ip=100.64.1.10/24 stacklab.gw=100.64.1.1" in xml
    assert "stacklab.vips=192.0.2.10,192.0.2.11" in xml
    assert "<target dev=\"tdb8e49a83e96f2\" managed=\"yes\" />" in xml


def test_memory_scale_down_is_clamped():
    assert [domain_xml.embedded_memory_mib(m) for m in (768, 3584, 28672)] == [128, 224, 256]


def test_lease_refuses_other_running_holder_and_breaks_stale_one(tmp_path):
    disk = tmp_path / "d.qcow2"
    disk.write_bytes(b"x")
    running = {"lab.a"}
    is_running = running.__contains__
    disks.acquire_lease(tmp_path, disk, "a", "lab.a", is_running)
    with pytest.raises(disks.LeaseError, match="leased to VM 'a'"):
        disks.acquire_lease(tmp_path, disk, "b", "lab.b", is_running)
    with pytest.raises(disks.LeaseError, match="cannot delete"):
        disks.delete_disk(tmp_path, disk, is_running)
    assert disks.lease_state(tmp_path, disk, "lab.a", True) == "held"
    assert disks.lease_state(tmp_path, disk, "lab.b", True) == "inconsistent"
    running.clear()  # holder stopped: its lease is stale and may be broken
    disks.acquire_lease(tmp_path, disk, "b", "lab.b", is_running)
    assert disks.read_lease(tmp_path, disk)["broke_stale"] == "lab.a"
    disks.delete_disk(tmp_path, disk, is_running)
    assert not disk.exists() and not paths.lease_file(tmp_path, disk).exists()


def test_module_load_order_puts_dependencies_first(tmp_path):
    for name, deps in {"virtio_ring": "", "virtio": "virtio_ring", "virtio_blk": "virtio,virtio_ring"}.items():
        (tmp_path / f"{name}.ko").write_bytes(b"\0junk\0depends=" + deps.encode() + b"\0more\0")
    index = rootfs.module_index(tmp_path)
    assert rootfs.load_order(("virtio_blk", "builtin_one"), index) == ["virtio_ring", "virtio", "virtio_blk"]


def test_cpio_archive_lists_files_dirs_and_symlinks(tmp_path):
    if shutil.which("cpio") is None:
        pytest.skip("cpio not installed")
    tree = tmp_path / "t"
    (tree / "bin").mkdir(parents=True)
    (tree / "bin/busybox").write_text("x")
    (tree / "bin/sh").symlink_to("busybox")
    rootfs.write_cpio(tree, tmp_path / "a.cpio")
    listing = subprocess.run(["cpio", "-it"], stdin=open(tmp_path / "a.cpio", "rb"),
                             capture_output=True, text=True, check=True).stdout.split()
    assert listing == ["bin", "bin/busybox", "bin/sh"]


def _summary(series: list[float], rw: str = "randread") -> dict:
    fio = iops_check.load_collector()
    data = {"jobs": [{"read": {"iops": sum(series) / len(series), "bw": 2000,
                               "clat_ns": {"percentile": {"50.000000": 2_000_000,
                                                           "99.000000": 9_000_000}}},
                      "write": {}, "job_runtime": 5000, "error": 0}]}
    log = "\n".join(f"{(i + 1) * 1000}, {v:.0f}, 0, 4096, 0" for i, v in enumerate(series))
    return fio.summarize(rw, data, fio.parse_iops_log(log), settle_s=1)


def test_steady_state_excludes_the_initial_burst_and_reports_the_peak():
    s = _summary([900, 502, 498, 500, 380])  # burst first, last window cut short
    assert s["steady_iops"] == 500.0 and s["peak_1s_iops"] == 900
    assert s["lat_us"] == {"p50": 2000.0, "p99": 9000.0}
    assert iops_check.compare_to_cap("t", s, 500).verdict == "pass"


def test_check_fails_above_and_below_the_cap_within_configured_tolerance():
    assert iops_check.compare_to_cap("t", _summary([600, 600, 600]), 500).verdict == "fail"
    assert iops_check.compare_to_cap("t", _summary([300, 300, 300]), 500).verdict == "fail"
    assert iops_check.compare_to_cap("t", _summary([540, 540, 540]), 500, 10).verdict == "pass"
    assert iops_check.compare_uncapped("t", _summary([999, 999, 999])).verdict == "fail"
    assert iops_check.compare_uncapped("t", _summary([1000, 1000, 1000])).verdict == "pass"


def test_guest_script_output_round_trips_through_the_parser():
    fio = iops_check.load_collector()
    script = fio.guest_script("/dev/vdb", ("randread",), 5, 2)
    assert "--direct=1" in script and "--ramp_time=2" in script and "--bs=4k" in script
    out = f"{fio.MARK} randread json\nnote: junk\n{{\"jobs\": []}}\n{fio.MARK} randread log\n1000, 5, 0, 4096, 0\n"
    assert fio.parse_guest_output(out) == {"randread": ({"jobs": []}, [5.0])}


def test_collector_runs_fio_standalone_and_prints_one_json(tmp_path):
    if shutil.which("fio") is None:
        pytest.skip("fio not installed")
    target = Path("/var/tmp") / f"cpt-fio-{tmp_path.name}.img"
    try:
        proc = subprocess.run([sys.executable, str(COLLECTOR), "--target", str(target),
                               "--size", "16M", "--runtime", "2", "--ramp", "1"],
                              capture_output=True, text=True, timeout=60, check=False)
    finally:
        target.unlink(missing_ok=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(proc.stdout)
    for rw in ("randread", "randwrite"):
        r = result["results"][rw]
        assert r["iops"] > 0 and r["iops_series"] and r["steady_iops"] > 0 and "p99" in r["lat_us"]
    bad = subprocess.run([sys.executable, str(COLLECTOR), "--target", "x", "--runtime", "0"],
                         capture_output=True, text=True, check=False)
    assert bad.returncode == 2


def test_vm_backends_of_load_balancers_get_every_frontend_vip():
    from lab.compute.vms import lb_vips
    from lab.model.topology import Topology

    data = load_topology(TOPOLOGY).model_dump(mode="json")
    data["servers"].append({"name": "mux1", "role": "mux"})
    data["load_balancers"] = [{
        "name": "web", "tenant": "red", "backends": ["cpt-a", "cpt-b"],
        "frontends": [{"vip": "192.0.2.10", "port": 80}, {"vip": "192.0.2.10", "port": 443},
                      {"vip": "192.0.2.11", "port": 0, "protocol": "all"}]}]
    plan = build_plan(Topology.model_validate(data))
    assert lb_vips(plan) == {"cpt-a": ["192.0.2.10", "192.0.2.11"],
                             "cpt-b": ["192.0.2.10", "192.0.2.11"]}
