"""The server-loss check's verdict on measured outcomes (pure): a second
loss that stops I/O passes and says the seed promises two losses; I/O that
goes on with one copy left, a failed resync or data read back wrong fail."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.compute.mirror_scrub import Resync
from lab.model import load_topology
from lab.plan.planner import build_plan
from lab.verify.storage import server_loss
from lab.verify.storage.guest_io import GuestIo

EXAMPLE = Path(__file__).resolve().parents[2] / "topologies" / "storage-mirror.yaml"
OK_A, OK_B = GuestIo(True, "a" * 64, 1.0, ""), GuestIo(True, "b" * 64, 1.0, "")
EIO = GuestIo(False, "", 2.0, "Input/output error")


def _judge(two: dict, back_a: GuestIo = OK_A, resynced: Resync | None = Resync(8.0, 0.4, 3)):
    vm = build_plan(load_topology(EXAMPLE)).endpoint("db1")
    io = server_loss._Guest("mir", Path("/nonexistent"), vm, vm.data_disks[0])
    io.written = {server_loss.A_MIB: OK_A.sha256, server_loss.B_MIB: OK_B.sha256}
    one = {"read A": OK_A, "write B": OK_B, "read B": OK_B}
    return server_loss._judge(vm, vm.data_disks[0], ("hv2", "hv3"), io, one, two,
                              {"read A": back_a, "read B": OK_B}, resynced)


def test_second_loss_stopping_io_passes_and_names_the_seeds_promise():
    result = _judge({"write C": EIO, "read A": EIO})
    assert result.verdict == "pass", result.measured
    assert "survives 1 server loss; the seed's S2D three-way mirror survives 2" in result.measured
    assert result.metrics["resync_s_per_gib"] == [8.0] and result.metrics["second_loss_io_stopped"] == [1.0]


@pytest.mark.parametrize(("two", "back_a", "resynced", "says"), [
    ({"write C": OK_A, "read A": OK_A}, OK_A, Resync(8.0, 0.4, 3), "answered without a vote"),
    ({"write C": EIO, "read A": EIO}, OK_A, None, "STILL DIFFER"),
    ({"write C": EIO, "read A": EIO}, OK_B, Resync(8.0, 0.4, 3), "NOT intact"),
])
def test_io_without_a_vote_a_failed_resync_or_wrong_data_fail(two, back_a, resynced, says):
    result = _judge(two, back_a, resynced)
    assert result.verdict == "fail" and says in result.measured, result.measured
