"""The example topology topologies/storage-mirror.yaml (lab `mir`) brought up
for real: a TCG guest whose `data` disk is a three-way mirror over hv1, hv2
and hv3. The mirror checks pass five runs in a row (bounded in time), the
mirrored disk keeps its tier's IOPS cap, each fault (leg-down, leg-corrupt)
makes its check fail, and `down` leaves no daemon, socket, leg or pid file."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from mirror_support import lab_processes, require_mirror_host

from lab.compute.paths import default_lab_dir
from lab.model import load_topology
from lab.plan.planner import build_plan
from lab.verify.catalog import clear_features
from lab.verify.runner import check_identity, run_one
from lab.verify.storage import faults
from lab.verify.storage.checks import verify_checks

pytestmark = [pytest.mark.root, pytest.mark.slow]
TOPOLOGY = Path(__file__).resolve().parents[2] / "topologies" / "storage-mirror.yaml"
LAB = "mir"
RUNS = 5
RUNS_BUDGET_S = 1200.0  # five runs of both mirror checks on a busy 2-core host


@pytest.fixture(scope="module")
def lab():
    require_mirror_host(vm=True)
    from lab.providers import embedded

    plan = build_plan(load_topology(TOPOLOGY))
    embedded.down(LAB)
    try:
        t0 = time.monotonic()
        embedded.up(plan)
        print(f"\nmir up (3 servers, 1 VM, a mirrored disk): {time.monotonic() - t0:.1f} s")
        yield plan
    finally:
        embedded.down(LAB)


def _checks(plan, *suffixes: str) -> list:
    return [c for c in verify_checks(plan) if check_identity(c)[0].endswith(suffixes)]


def _run(plan, *suffixes: str) -> dict:
    return {r.name: r for c in _checks(plan, *suffixes) for r in run_one(c)}


def test_mirror_checks_pass_five_runs_in_a_row(lab):
    started = time.monotonic()
    for run in range(1, RUNS + 1):
        results = _run(lab, ".mirror", ".survives_server_loss")
        assert set(results) == {"storage.db1/data.mirror", "storage.db1/data.survives_server_loss"}
        for r in results.values():
            print(f"\nrun {run} {r.name} {r.verdict} ({r.duration_s:.1f} s): {r.measured}")
        assert {r.verdict for r in results.values()} == {"pass"}, {n: r.measured for n, r in results.items()}
        loss = results["storage.db1/data.survives_server_loss"]
        assert loss.metrics["resync_s_per_gib"][0] > 0 and loss.metrics["second_loss_io_stopped"] == [1.0]
        assert time.monotonic() - started < RUNS_BUDGET_S, f"{run} runs took {time.monotonic() - started:.0f} s"


def test_the_mirrored_disk_keeps_its_tiers_iops_cap(lab):
    from lab.compute.status import vm_status

    disks = {d["name"]: d for d in vm_status(LAB, default_lab_dir(LAB))[0]["disks"]}
    assert (disks["data"]["iops_cap"], disks["log"]["iops_cap"]) == (500, None)  # live, from QEMU
    assert disks["data"]["file"].endswith("compute/mirror/db1/data.sock") and disks["data"]["lease"] == "held"
    results = run_one(_checks(lab, "storage.all_disks.iops")[0])
    mirrored = next(r for r in results if r.target.startswith("db1/data"))
    print(f"\n{mirrored.name} {mirrored.verdict}: {mirrored.measured}")
    assert mirrored.metrics["iops_target"] == [500.0]
    assert mirrored.verdict in ("pass", "inconclusive"), mirrored.measured  # above the cap is always a fail


def test_a_quorum_killed_under_the_running_vm_is_restarted_by_up_and_the_disk_answers_again(lab):
    from lab.compute import paths, storage_daemon
    from lab.providers import embedded
    from lab.verify.storage import guest_io

    disk = lab.endpoint("db1").data_disks[0]
    assert storage_daemon.stop(paths.quorum_pidfile(default_lab_dir(LAB), disk.quorum_socket), crash=True)
    changes = embedded.up(lab).changes
    assert [(c.action, c.kind, c.target.split()[0]) for c in changes] == [("create", "quorum", "db1/data")]
    reads = [guest_io.read_region(LAB, default_lab_dir(LAB), "db1", disk.dev, 0, 1) for _ in range(3)]
    print(f"\nreads after the quorum's restart: {[r.describe() for r in reads]}")
    # the VM's NBD client finds its connection gone on one I/O and reconnects on a later one
    assert reads[-1].ok and sum(not r.ok for r in reads) <= 2
    assert _run(lab, ".mirror")["storage.db1/data.mirror"].verdict == "pass"


def test_leg_down_fails_both_mirror_checks_until_cleared(lab):
    from lab.providers import embedded

    print("\n" + faults.leg_down(lab))
    results = _run(lab, ".mirror", ".survives_server_loss")
    for r in results.values():
        print(f"{r.name} {r.verdict}: {r.measured}")
        assert r.verdict == "fail" and "leg on hv2: storage daemon not running" in r.measured
    repaired = [str(c) for c in embedded.up(lab).changes] + clear_features(lab)
    assert any("qsd" in c and "hv2" in c for c in repaired), repaired
    assert _run(lab, ".mirror")["storage.db1/data.mirror"].verdict == "pass"


def test_leg_corrupt_fails_the_mirror_check_which_shows_the_vote_repairing_it(lab):
    print("\n" + faults.leg_corrupt(lab))
    first = _run(lab, ".mirror")["storage.db1/data.mirror"]
    print(f"{first.verdict}: {first.measured}")
    assert first.verdict == "fail" and "leg on hv2 differed" in first.measured
    assert "out-voted" in first.measured and "the vote repaired it" in first.measured
    again = _run(lab, ".mirror")["storage.db1/data.mirror"]  # no clear: the quorum's repair stands
    assert again.verdict == "pass", again.measured


def test_down_leaves_no_storage_daemon_socket_leg_or_pid_file(lab):
    from lab.compute.daemons import connect
    from lab.compute.libvirt_driver import lab_domains
    from lab.providers import embedded

    lab_dir = default_lab_dir(LAB)
    assert len(lab_processes(lab_dir)) >= 5  # 3 storage daemons, the quorum, the VM's QEMU
    embedded.down(LAB)
    assert lab_processes(lab_dir) == []
    assert not lab_dir.exists()
    conn = connect()
    try:
        assert lab_domains(conn, lab.mark) == []
    finally:
        conn.close()
