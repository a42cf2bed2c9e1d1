"""Mirrored-disk storage on the real fabric, without a VM (lab `mir2`): three
server namespaces, a storage daemon in each exporting its leg over NBD on
the underlay, a quorum daemon in the VM's server namespace. The host reads
and writes the disk through the quorum's unix socket with qemu-io, as the
VM's QEMU would. Proves: the storage diff is idempotent, writes reach three
identical copies, one server loss is survived and `up` resyncs the returned
server, a corrupted copy is out-voted and repaired, a second loss stops I/O,
and `down` after a `kill -9` mid-up leaves no daemon, socket or leg behind."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from mirror_support import lab_processes, require_mirror_host

from lab.apply.journal import Journal
from lab.apply.netns import list_namespaces
from lab.compute import mirror, mirror_converge, mirror_io, mirror_scrub
from lab.compute.paths import default_lab_dir
from lab.model.topology import Topology
from lab.plan.planner import build_plan

pytestmark = [pytest.mark.root, pytest.mark.slow]
LAB = "mir2"
TOPOLOGY = {
    "name": LAB, "underlay": {"subnet": "198.18.22.0/24"},
    "servers": [{"name": f"hv{i}"} for i in (1, 2, 3)],
    "tenants": [{"name": "red", "vni": 2201, "subnets": [{"name": "a", "prefix": "100.64.122.0/24"}]}],
    "vms": [{"name": "db", "tenant": "red", "server": "hv1",
             "data_disks": [{"name": "data", "size_gb": 1, "resiliency": "mirror3"}]}],
}
MIB = 1 << 20


def _apply(plan, lab_dir: Path) -> list:
    changes = mirror_converge.diff_storage(plan, lab_dir, Journal(LAB).record)
    for change in changes:
        change.apply()
    return changes


@pytest.fixture(scope="module")
def stor():
    require_mirror_host()
    from lab.providers import embedded

    plan = build_plan(Topology.model_validate(TOPOLOGY))
    embedded.down(LAB)
    with pytest.MonkeyPatch.context() as mp:  # the fabric alone: no VM boots, storage is applied below
        mp.setattr("lab.providers.hooks.lifecycles", lambda reverse=False: [])
        embedded.up(plan)
    lab_dir = default_lab_dir(LAB)
    try:
        yield plan, lab_dir, _apply(plan, lab_dir)
    finally:
        embedded.down(LAB)


def _disk(plan):
    return plan.endpoint("db").data_disks[0]


def _io(plan, lab_dir: Path, *commands: str) -> subprocess.CompletedProcess:
    argv = ["qemu-io", "-f", "raw"] + [a for c in commands for a in ("-c", c)]
    return subprocess.run(argv + [mirror_scrub.nbd_uri(lab_dir, _disk(plan))], capture_output=True, text=True,
                          timeout=60, check=False)


def _legs(plan, lab_dir: Path) -> dict[str, str]:
    return {leg.server: mirror_io.leg_content(lab_dir / leg.path).digest for leg in _disk(plan).legs}


def test_up_creates_legs_storage_daemons_and_the_quorum_then_changes_nothing(stor):
    plan, lab_dir, changes = stor
    kinds = sorted((c.kind, c.host) for c in changes)
    assert kinds == sorted([("leg", s) for s in ("hv1", "hv2", "hv3")] + [("qsd", s) for s in ("hv1", "hv2", "hv3")]
                           + [("quorum", "hv1")]), [str(c) for c in changes]
    assert mirror_converge.diff_storage(plan, lab_dir, Journal(LAB).record) == []
    recorded = {r.name for r in Journal(LAB).resources()}
    assert {str(lab_dir / leg.path) for leg in _disk(plan).legs} <= recorded
    assert str(lab_dir / "compute/mirror/db/data.pid") in recorded


def test_writes_through_the_quorum_reach_three_identical_copies(stor):
    plan, lab_dir, _ = stor
    done = _io(plan, lab_dir, "write -P 0x5a 0 8M")
    assert done.returncode == 0, done.stderr
    legs = _legs(plan, lab_dir)
    assert len(set(legs.values())) == 1, legs
    assert mirror_io.leg_content(lab_dir / _disk(plan).legs[2].path).regions  # not three empty files


def test_one_server_lost_io_goes_on_and_up_restarts_it_with_a_resync(stor):
    plan, lab_dir, _ = stor
    assert mirror.stop_server(lab_dir, "hv2")
    done = _io(plan, lab_dir, "write -P 0x6b 16M 4M", "read -P 0x6b 16M 4M", "read -P 0x5a 0 8M")
    assert done.returncode == 0 and "Pattern verification failed" not in done.stdout, done.stdout + done.stderr
    assert len(set(_legs(plan, lab_dir).values())) == 2  # hv2 missed the write
    changes = _apply(plan, lab_dir)
    assert [(c.action, c.kind, c.host) for c in changes] == [("create", "qsd", "hv2"), ("update", "resync", "hv1")]
    assert changes[1].target == "db/data (legs on hv2 returned)" and "scrub(s))" in changes[1].outcome
    assert len(set(_legs(plan, lab_dir).values())) == 1


def test_a_corrupted_copy_is_outvoted_and_a_scrub_repairs_it(stor):
    plan, lab_dir, _ = stor
    before = _legs(plan, lab_dir)
    for offset in (3 * MIB, 5 * MIB):  # one read back below, one left for the scrub
        mirror_io.flip_bytes(lab_dir / _disk(plan).legs[1].path, offset, 64)
    assert _legs(plan, lab_dir)["hv2"] != before["hv1"]
    done = _io(plan, lab_dir, "read -P 0x5a 3M 4k")  # the majority's bytes, not hv2's
    assert done.returncode == 0 and "Pattern verification failed" not in done.stdout, done.stdout
    scrubbed = mirror_scrub.scrub(lab_dir, _disk(plan))
    assert _legs(plan, lab_dir) == before
    assert set(scrubbed.leg_reports(_disk(plan))) == {"hv2"}  # the quorum reported the out-voted copy


def test_a_second_server_loss_stops_io_until_the_servers_return(stor):
    plan, lab_dir, _ = stor
    assert mirror.stop_server(lab_dir, "hv2") and mirror.stop_server(lab_dir, "hv3")
    done = _io(plan, lab_dir, "read 0 4k")
    assert "Input/output error" in done.stdout + done.stderr, done.stdout + done.stderr
    _apply(plan, lab_dir)
    done = _io(plan, lab_dir, "read -P 0x5a 0 8M")
    assert done.returncode == 0 and "Pattern verification failed" not in done.stdout, done.stdout + done.stderr


def test_a_mirror_added_and_dropped_changes_exports_not_daemons(stor):
    plan, lab_dir, _ = stor
    disks = [{"name": "data", "size_gb": 1, "resiliency": "mirror3"},
             {"name": "more", "size_gb": 1, "resiliency": "mirror3"}]
    two = build_plan(Topology.model_validate(
        {**TOPOLOGY, "vms": [{**TOPOLOGY["vms"][0], "data_disks": disks}]}))
    added = sorted((c.action, c.kind) for c in _apply(two, lab_dir))
    assert added == [("create", "export")] * 3 + [("create", "leg")] * 3 + [("create", "quorum")], added
    dropped = sorted((c.action, c.kind) for c in _apply(plan, lab_dir))
    assert dropped == [("delete", "export")] * 3 + [("delete", "leg")] * 3 + [("delete", "quorum")], dropped
    assert {s: mirror.exports(lab_dir, s) for s in ("hv1", "hv2", "hv3")} == {
        leg.server: {leg.node} for leg in _disk(plan).legs}
    assert not (lab_dir / "compute/mirror/db/more.pid").exists()
    assert not list((lab_dir / "compute/storage").glob("*/db/more.raw"))
    assert mirror_converge.diff_storage(plan, lab_dir, Journal(LAB).record) == []
    done = _io(plan, lab_dir, "read -P 0x5a 0 8M")  # the mirror that stayed never stopped
    assert done.returncode == 0 and "Pattern verification failed" not in done.stdout, done.stdout + done.stderr


CRASH = """
import os, signal, sys
from lab.apply.journal import Journal
from lab.compute import mirror_converge
from lab.model.topology import Topology
from lab.plan.planner import build_plan
import json
plan = build_plan(Topology.model_validate(json.loads(sys.argv[1])))
journal = Journal(plan.lab)

def record(kind, name, detail=""):
    journal.record(kind, name, detail)
    if name.endswith("mirror/db/data.pid"):
        os.kill(os.getpid(), signal.SIGKILL)  # the servers serve their legs, the quorum is about to start

for change in mirror_converge.diff_storage(plan, sys.argv[2], record):
    change.apply()
"""


def test_down_after_a_kill_mid_up_leaves_no_daemon_socket_or_leg(stor):
    import json

    from lab.providers import embedded

    plan, lab_dir, _ = stor
    for pidfile in sorted((lab_dir / "compute").rglob("*.pid")):
        mirror.storage_daemon.stop(pidfile)
    shutil.rmtree(lab_dir / "compute", ignore_errors=True)
    child = subprocess.run([sys.executable, "-c", CRASH, json.dumps(TOPOLOGY), str(lab_dir)],
                           capture_output=True, text=True, timeout=120, check=False)
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert len(lab_processes(lab_dir)) == 3  # the three storage daemons outlived the crash
    embedded.down(LAB)
    assert lab_processes(lab_dir) == []
    assert not lab_dir.exists()
    assert not [ns for ns in list_namespaces() if ns.startswith(f"{LAB}.")]
