"""Block I/O in a guest through run-command, as the storage checks need it:
write a fresh pattern to a region of a data disk, read a region back, flush.

All I/O is direct (O_DIRECT), so a read reaches the disk and never the
guest's page cache, and every command runs under the guest's `timeout`, so a
disk that stops answering is a measured outcome ("timed out after 20 s"),
not a hung check. Offsets and lengths are in MiB.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

from lab.compute import agent, operations

IO_TIMEOUT_S = 20  # per guest dd; a mirror that lost its vote answers EIO within seconds
_SHA = re.compile(r"^([0-9a-f]{64})\s", re.M)
_RC = re.compile(r"^rc=(\d+)$", re.M)


@dataclass(frozen=True)
class GuestIo:
    """One guest operation: whether it succeeded, the sha256 of the data (a
    write: what was written; a read: what came back), how long it took."""

    ok: bool
    sha256: str
    seconds: float
    detail: str  # the guest's error text when not ok ("Input/output error", "timed out")

    def describe(self) -> str:
        return f"ok in {self.seconds:.1f} s" if self.ok else f"{self.detail} after {self.seconds:.1f} s"


def _run(lab: str, lab_dir: Path, vm: str, script: str, want_sha: bool = True) -> GuestIo:
    started = time.monotonic()
    try:
        result = operations.exec_vm(lab, lab_dir, vm, script, timeout_s=IO_TIMEOUT_S + 40)
    except agent.AgentError as exc:
        return GuestIo(False, "", time.monotonic() - started, f"run-command failed: {exc}")
    seconds = time.monotonic() - started
    rc = _RC.findall(result.output)
    sha = _SHA.findall(result.output)
    code = int(rc[-1]) if rc else -1
    if code == 0 and (sha or not want_sha):
        return GuestIo(True, sha[-1] if sha else "", seconds, "")
    text = " ".join(line for line in result.output.splitlines()
                    if line and not _RC.match(line) and not _SHA.match(line))
    detail = "timed out" if code in (124, 137, 143) else (
        "Input/output error" if "I/O error" in text or "Input/output" in text else f"exit {code}: {text[-200:]}")
    return GuestIo(False, sha[-1] if sha else "", seconds, detail)


def write_pattern(lab: str, lab_dir: Path, vm: str, dev: str, offset_mib: int, mib: int) -> GuestIo:
    """Write `mib` MiB of fresh random bytes at `offset_mib`, flushed; the sha256 is of what was written."""
    script = (f"dd if=/dev/urandom of=/tmp/stacklab.pat bs=1M count={mib} 2>/dev/null && "
              "sha256sum /tmp/stacklab.pat && "
              f"timeout -s KILL {IO_TIMEOUT_S} dd if=/tmp/stacklab.pat of=/dev/{dev} bs=1M seek={offset_mib} "
              f"count={mib} oflag=direct conv=notrunc,fsync 2>&1; echo rc=$?; rm -f /tmp/stacklab.pat")
    return _run(lab, lab_dir, vm, script)


def read_region(lab: str, lab_dir: Path, vm: str, dev: str, offset_mib: int, mib: int) -> GuestIo:
    """Read `mib` MiB at `offset_mib` straight from the disk; the sha256 is of what came back."""
    script = (f"timeout -s KILL {IO_TIMEOUT_S} dd if=/dev/{dev} of=/tmp/stacklab.rd bs=1M skip={offset_mib} "
              f"count={mib} iflag=direct 2>&1; rc=$?; [ $rc = 0 ] && sha256sum /tmp/stacklab.rd; "
              "echo rc=$rc; rm -f /tmp/stacklab.rd")
    return _run(lab, lab_dir, vm, script)


def flush(lab: str, lab_dir: Path, vm: str, dev: str) -> GuestIo:
    """Flush the guest's buffers and the disk's write cache (the checks write direct anyway)."""
    return _run(lab, lab_dir, vm, f"sync; blockdev --flushbufs /dev/{dev} 2>&1; echo rc=$?", want_sha=False)
