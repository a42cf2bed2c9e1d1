"""Ending a daemon the lab started (by its pid, never by name): SIGTERM,
wait, SIGKILL if it lingers. A zombie whose parent is gone counts as ended."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path


def _ended(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def alive(pid: int) -> bool:
    """Running: a zombie whose parent is gone counts as ended."""
    return not _ended(pid)


def terminate(pid: int, timeout: float = 5.0) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return
        except ChildProcessError:
            if _ended(pid):
                return
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
