"""storage.<vm>/<disk>.survives_server_loss: break the servers under a
mirrored disk, one then two, and measure what the guest sees.

1. The guest writes a fresh 4 MiB pattern (A).
2. First loss: the storage daemon of the second leg's server is killed
   (SIGKILL, a server losing power; the VM's own server keeps its leg). The
   guest must read A back intact and keep writing: a second pattern (B) is
   written and read back.
3. Second loss: the third leg's server is killed too. The seed's S2D
   three-way mirror survives two server failures; this mirror votes 2 of 3
   (the plan's vote_threshold), so with one copy left nothing can be voted
   and I/O must stop. The check measures a write (C), then a read of A (the
   write first: a failed read also cuts the VM's disk connection, see
   _Guest.reconnect), and says what happened.
   How the verdict treats it: I/O stopping with an error (or a timeout) is
   the expected, correct behaviour of a 2-of-3 vote and does not fail the
   check, but the measured text states that the seed's promise (two losses)
   is not met by the embedded mirror (one loss). A read or write that
   *succeeds* with one copy left fails the check: the quorum would then be
   answering without a vote.
4. Both servers return (started as `lab up` starts them, without its
   automatic resync). The resync (lab.compute.mirror_scrub.resync: scrubs
   through the quorum until every leg answers and agrees) is timed from the
   servers' return and reported in seconds per GiB (metric
   resync_s_per_gib; scrub_s_per_gib is its last, clean scrub alone: a full
   read through the quorum without the wait for the legs to reconnect). It
   must leave the three legs identical, so the failed write C left no torn
   copy behind. Then A and B must read back intact.

Losses are always undone, also when the check breaks half way.
"""

from __future__ import annotations

from pathlib import Path

from lab.apply.journal import Journal
from lab.compute import mirror, mirror_scrub
from lab.compute.mirror_status import mirror_state
from lab.plan.model import DiskPlan, EndpointPlan, Plan
from lab.verify.result import CheckResult
from lab.verify.storage import guest_io
from lab.verify.storage.mirror import placement_problems, target_of

A_MIB, B_MIB, C_MIB, PATTERN_MIB = 16, 24, 32, 4
RECONNECT_READS = 3


def _result(vm: EndpointPlan, disk: DiskPlan, verdict: str, measured: str,
            metrics: dict | None = None) -> CheckResult:
    return CheckResult(name=f"storage.{vm.name}/{disk.name}.survives_server_loss", group="storage",
                       target=target_of(vm, disk), measured=measured, verdict=verdict,  # type: ignore[arg-type]
                       metrics=metrics or {})


def check_server_loss(plan: Plan, lab_dir: Path, vm: EndpointPlan, disk: DiskPlan) -> CheckResult:
    problems = placement_problems(disk) + mirror_state(lab_dir, disk).problems()
    if problems:
        return _result(vm, disk, "fail", "the mirror is degraded before any loss: " + "; ".join(problems))
    io = _Guest(plan.lab, lab_dir, vm, disk)
    a = io.write(A_MIB)
    if not a.ok:
        return _result(vm, disk, "fail", f"the guest could not write its pattern: {a.describe()}")
    first, second = disk.legs[1].server, disk.legs[2].server
    stopped: list[str] = []
    try:
        mirror.stop_server(lab_dir, first)
        stopped.append(first)
        one = {"read A": io.read(A_MIB), "write B": io.write(B_MIB)}
        one["read B"] = io.read(B_MIB)
        mirror.stop_server(lab_dir, second)
        stopped.append(second)
        two = {"write C": io.write(C_MIB), "read A": io.read(A_MIB)}  # the write first: see _Guest.reconnect
    finally:
        for server in reversed(stopped):
            mirror.start_server(plan, lab_dir, server, Journal(plan.lab).record)
    resynced = _resync(plan, lab_dir, disk, stopped)
    back = {"read A": io.reconnect(A_MIB), "read B": io.read(B_MIB)}
    return _judge(vm, disk, (first, second), io, one, two, back, resynced)


class _Guest:
    def __init__(self, lab: str, lab_dir: Path, vm: EndpointPlan, disk: DiskPlan):
        self.args = (lab, lab_dir, vm.name, disk.dev)
        self.written: dict[int, str] = {}
        self.reconnect_errors = 0

    def write(self, offset: int) -> guest_io.GuestIo:
        done = guest_io.write_pattern(*self.args, offset, PATTERN_MIB if offset != C_MIB else 1)
        if done.ok:
            self.written[offset] = done.sha256
        return done

    def read(self, offset: int) -> guest_io.GuestIo:
        return guest_io.read_region(*self.args, offset, PATTERN_MIB)

    def intact(self, offset: int, io: guest_io.GuestIo) -> bool:
        return io.ok and io.sha256 == self.written.get(offset)

    def reconnect(self, offset: int) -> guest_io.GuestIo:
        """Read until the VM's disk answers again. QEMU 7.2's NBD server closes
        a client's connection when a read it serves in structured replies
        fails (the quorum's read with one leg left), and the VM's NBD client,
        which libvirt 9.0 cannot give a reconnect delay, fails the request that
        finds the connection gone and reconnects on a later one: after a failed
        read the guest sees an I/O error more once the mirror is back (one,
        measured). `reconnect_errors` counts them."""
        self.reconnect_errors = 0
        for _ in range(RECONNECT_READS):
            done = self.read(offset)
            if done.ok:
                return done
            self.reconnect_errors += 1
        return done


def _resync(plan: Plan, lab_dir: Path, disk: DiskPlan, returned: list[str]) -> mirror_scrub.Resync | None:
    """This disk's resync, from the servers' return to three identical legs
    (None if they never agree), then the other mirrors with a leg there."""
    try:
        done: mirror_scrub.Resync | None = mirror_scrub.resync(lab_dir, disk)
    except mirror_scrub.ScrubError:
        done = None
    for server in returned:
        mirror.resync_server(plan, lab_dir, server, skip=(disk.quorum_socket,))
    return done


def _judge(vm: EndpointPlan, disk: DiskPlan, servers: tuple[str, str], io: _Guest,
           one: dict[str, guest_io.GuestIo], two: dict[str, guest_io.GuestIo],
           back: dict[str, guest_io.GuestIo], resynced: mirror_scrub.Resync | None) -> CheckResult:
    ok_one = io.intact(A_MIB, one["read A"]) and one["write B"].ok and io.intact(B_MIB, one["read B"])
    stopped_two = not two["read A"].ok and not two["write C"].ok
    ok_back = io.intact(A_MIB, back["read A"]) and io.intact(B_MIB, back["read B"])
    survivable = len(disk.legs) - disk.vote_threshold
    first = (f"1st server loss ({servers[0]}): pattern read back "
             f"{'intact' if io.intact(A_MIB, one['read A']) else 'WRONG or failed'} "
             f"({one['read A'].describe()}, the first I/O waits out the leg's reconnect delay), writes "
             f"{'continue' if one['write B'].ok else 'FAILED'} ({one['write B'].describe()})")
    second = (f"2nd server loss ({servers[1]}): read {two['read A'].describe()}, write {two['write C'].describe()}: "
              + (f"I/O stops, as a vote of {disk.vote_threshold} of {len(disk.legs)} must with one copy left "
                 f"(this mirror survives {survivable} server loss; the seed's S2D three-way mirror survives 2)"
                 if stopped_two else "I/O went on with one copy left: the quorum answered without a vote"))
    resync = (f"resync {resynced.seconds / disk.size_gb:.1f} s per GiB until the three legs were identical "
              f"({resynced.scrubs} scrub(s); a clean scrub of the whole disk takes "
              f"{resynced.scrub_s / disk.size_gb:.1f} s per GiB, the rest is waiting for the legs' NBD clients "
              "to reconnect)" if resynced else
              "the three legs STILL DIFFER after the resync's budget")
    errors = io.reconnect_errors
    back_text = (f"both back: {resync}, data written before and during the loss "
                 f"{'intact' if ok_back else 'NOT intact'} ({back['read A'].describe()}"
                 + (f", after {errors} I/O error(s) while the VM's disk reconnected to the quorum, which had "
                    "closed it on the failed read" if errors else "") + ")")
    verdict = "pass" if ok_one and stopped_two and ok_back and resynced else "fail"
    metrics = {"first_loss_read_s": [round(one["read A"].seconds, 2)],
               "second_loss_io_stopped": [float(stopped_two)], "survivable_losses": [float(survivable)]}
    if resynced:
        metrics |= {"resync_s_per_gib": [round(resynced.seconds / disk.size_gb, 3)],
                    "scrub_s_per_gib": [round(resynced.scrub_s / disk.size_gb, 3)]}
    return _result(vm, disk, verdict, "; ".join((first, second, back_text)), metrics)
