"""Pure parts of mirrored disks (no root, no VM): the domain's NBD disk keeps
its cap, the quorum daemon's command line carries the vote, the rewrite and
the legs' reconnect delay, and the legs' content hash treats holes as zeros
and sees one flipped byte."""

from __future__ import annotations

import json
from pathlib import Path

from lab.compute import converge, domain_xml, mirror, mirror_io
from lab.model import load_topology
from lab.plan.planner import build_plan

EXAMPLE = Path(__file__).resolve().parents[2] / "topologies" / "storage-mirror.yaml"


def _plan():
    return build_plan(load_topology(EXAMPLE))


def test_mirrored_disk_is_an_nbd_unix_disk_that_keeps_its_iops_cap(tmp_path):
    plan = _plan()
    vm = plan.endpoint("db1")
    disks = converge.vm_disks(tmp_path, vm)
    spec = domain_xml.DomainSpec(plan.lab, plan.mark, vm, "qemu", tmp_path / "k", tmp_path / "i",
                                 tmp_path / "serial.log", tmp_path / "a.sock", disks)
    xml = domain_xml.domain_xml(spec)
    rows = {d["name"]: d for d in domain_xml.attached_disks(xml)}
    assert rows["data"]["file"] == str(tmp_path / "compute/mirror/db1/data.sock")
    assert rows["data"]["iops_cap"] == 500 and rows["log"]["iops_cap"] is None
    assert "protocol=\"nbd\" name=\"data\"" in xml and "transport=\"unix\"" in xml


def test_quorum_daemon_votes_two_of_three_rewrites_and_reconnects_its_legs(tmp_path):
    disk = _plan().endpoint("db1").data_disks[0]
    argv = mirror.quorum_argv(tmp_path, disk)
    blockdevs = [json.loads(argv[i + 1]) for i, a in enumerate(argv) if a == "--blockdev"]
    legs, quorum = blockdevs[:3], blockdevs[3]
    assert quorum["driver"] == "quorum" and quorum["vote-threshold"] == 2 and quorum["rewrite-corrupted"] is True
    assert quorum["children"] == [leg.node for leg in disk.legs]
    assert [(b["server"]["host"], b["export"]) for b in legs] == [(leg.address, "db1/data") for leg in disk.legs]
    assert all(b["driver"] == "nbd" and b["reconnect-delay"] > 0 for b in legs)
    assert f"addr.type=unix,addr.path={tmp_path}/compute/mirror/db1/data.sock" in argv
    assert argv[-3:] == ["--pidfile", f"{tmp_path}/compute/mirror/db1/data.pid", "--daemonize"]


def test_each_server_daemon_listens_on_its_underlay_address(tmp_path):
    plan = _plan()
    servers = mirror.storage_servers(plan)
    assert sorted(servers) == ["hv1", "hv2", "hv3"]
    argv = mirror.server_argv(tmp_path, servers["hv2"])
    assert f"addr.type=inet,addr.host={plan.host('hv2').underlay_ip},addr.port=10809" in argv


def test_leg_hash_treats_holes_as_zeros_and_sees_one_flipped_byte(tmp_path):
    sparse, written, other = (tmp_path / n for n in ("sparse", "written", "other"))
    for path in (sparse, written, other):
        with open(path, "wb") as f:
            f.truncate(64 << 20)
    with open(written, "r+b") as f:
        f.seek(3 << 20)
        f.write(bytes(2 << 20))  # zeros written where the sparse file has a hole
    for path in (sparse, written, other):
        with open(path, "r+b") as f:
            f.seek(40 << 20)
            f.write(b"stacklab" * 512)
    assert mirror_io.leg_content(sparse).digest == mirror_io.leg_content(written).digest
    mirror_io.flip_bytes(other, (40 << 20) + 100, 1)
    a, b = mirror_io.leg_content(sparse), mirror_io.leg_content(other)
    assert a.digest != b.digest and a.differing(b) == [40 << 20]
    mirror_io.flip_bytes(other, (40 << 20) + 100, 1)
    assert mirror_io.leg_content(other).digest == a.digest
