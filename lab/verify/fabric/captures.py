"""Capture VXLAN at the ToR while some traffic runs."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from lab.apply.nsexec import COLLECTORS, popen_in_namespace
from lab.plan.model import Plan

READY_TIMEOUT_S = 20


def capture_vxlan(plan: Plan, traffic: Callable[[], None], pcap: Path, seconds: float = 60.0) -> list[dict]:
    """Run `traffic` while the ToR captures VXLAN; return the frames seen.
    The capture ends when the traffic is done (or after `seconds`)."""
    tor = next(h for h in plan.hosts if h.role == "tor")
    argv = [sys.executable, str(COLLECTORS / "vxlan_capture.py"), "--seconds", str(seconds), "--pcap", str(pcap)]
    proc = popen_in_namespace(tor.namespace, argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        _wait_ready(proc)
        time.sleep(0.2)
        traffic()
        out, err = proc.communicate(input="", timeout=seconds + READY_TIMEOUT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if proc.returncode != 0:
        raise RuntimeError(f"vxlan capture failed: {err.strip()[-400:]}")
    return json.loads(out)["frames"]


def _wait_ready(proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if "listening" in line:
            return
        if not line and proc.poll() is not None:
            raise RuntimeError(f"vxlan capture exited early: {proc.stderr.read()[-400:]}")
    raise RuntimeError("vxlan capture did not start in time")
