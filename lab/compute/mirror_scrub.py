"""Scrub and resync a mirrored disk through its quorum.

A scrub reads every byte of the disk through the quorum's NBD socket
(qemu-img into a null target). Every read is voted (read-pattern quorum)
and, with rewrite-corrupted on, a leg whose data differs from the majority
is rewritten with it: this is how a leg that was corrupted, or stale after
its server came back, is repaired. While it runs, the quorum's monitor
reports each leg that failed a read or was out-voted (QUORUM_REPORT_BAD;
QEMU sends at most one per leg and second, so the scrub waits a second
more for the last ones).

A resync scrubs until one scrub finds every leg answering and agreeing and
the leg files are identical. A leg whose server came back is reconnected by
a background thread of QEMU's NBD client that backs off up to 16 s between
attempts while the server is away, so the first scrubs may pass it by, or
fail for want of a vote when two legs return: identical files alone do not
prove it (a leg that missed no write matches while still disconnected, and
the next write would then find one leg fewer than it needs).
"""

from __future__ import annotations

import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from lab.compute import mirror_io, paths, qmp
from lab.plan.model import DiskPlan

GIB = 1 << 30
SCRUB_TIMEOUT_S = 600.0
EVENT_HOLD_S = 1.1  # QEMU's rate limit on QUORUM_REPORT_BAD is 1 s per leg
RESYNC_BUDGET_S = 90.0  # > 2 x QEMU's longest NBD reconnect back-off (16 s), on a busy host
RESYNC_PAUSE_S = 1.0


class ScrubError(RuntimeError):
    """The scrub could not read the disk through its quorum."""


@dataclass(frozen=True)
class Scrub:
    seconds: float
    bad: Counter[str] = field(default_factory=Counter)  # leg node -> reports (failed reads, out-voted data)

    def leg_reports(self, disk: DiskPlan) -> dict[str, int]:
        """Reports by the leg's server."""
        return {leg.server: self.bad[leg.node] for leg in disk.legs if self.bad[leg.node]}


def nbd_uri(lab_dir: Path, disk: DiskPlan) -> str:
    return f"nbd+unix:///{disk.name}?socket={paths.quorum_socket(lab_dir, disk.quorum_socket)}"


def scrub(lab_dir: Path, disk: DiskPlan, timeout_s: float = SCRUB_TIMEOUT_S) -> Scrub:
    """Read the whole disk through its quorum; the time it took and what the quorum reported."""
    argv = ["qemu-img", "convert", "-n", "-f", "raw", nbd_uri(lab_dir, disk),
            "--target-image-opts", f"driver=null-co,size={disk.size_gb * GIB}"]
    try:
        with qmp.Qmp(paths.quorum_qmp(lab_dir, disk.quorum_socket)) as monitor:
            started = time.monotonic()
            done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s, check=False)
            seconds = time.monotonic() - started
            time.sleep(EVENT_HOLD_S)
            monitor.execute("query-version")  # collects the events sent meanwhile
    except qmp.QmpError as exc:  # its monitor takes one client at a time: another may hold it
        raise ScrubError(f"scrub of {disk.name}: the quorum's monitor: {exc}") from exc
    if done.returncode != 0:
        raise ScrubError(f"scrub of {disk.name} through {nbd_uri(lab_dir, disk)} failed "
                         f"({done.returncode}): {done.stderr.strip()[-400:]}")
    return Scrub(seconds, Counter(e["data"]["node-name"] for e in monitor.events
                                  if e.get("event") == "QUORUM_REPORT_BAD"))


@dataclass(frozen=True)
class Resync:
    seconds: float  # from the start until a clean scrub
    scrub_s: float  # the clean scrub alone: the read speed, without the wait for legs to reconnect
    scrubs: int


def resync(lab_dir: Path, disk: DiskPlan, budget_s: float = RESYNC_BUDGET_S) -> Resync:
    """Scrub until a scrub finds no leg failing or out-voted and the legs are identical."""
    started, why, scrubs = time.monotonic(), "", 0
    while True:
        scrubs += 1
        try:
            last = scrub(lab_dir, disk)
            if not last.bad and mirror_io.legs_identical(lab_dir, disk):
                return Resync(time.monotonic() - started, last.seconds, scrubs)
            why = f"; the last scrub: reports from the legs on {last.leg_reports(disk)}"
        except ScrubError as exc:  # too few legs connected yet to vote
            why = f"; the last scrub: {exc}"
        if time.monotonic() - started > budget_s:
            raise ScrubError(f"the legs of {disk.name} do not all answer and agree after {scrubs} scrubs in "
                             f"{budget_s:.0f} s (a leg that cannot reconnect, or no two legs agree){why}")
        time.sleep(RESYNC_PAUSE_S)
