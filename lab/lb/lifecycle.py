"""The LB's part of `lab up` / `lab down` / `lab status` (see
lab.providers.hooks): install one datapath per MUX that carries an LB, start
the routing daemons (lab.lb.bgp) and the probe daemon; on down stop them and
remove every program and pin."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from lab.apply.changes import Change
from lab.lb import bgp, converge, loader
from lab.lb.control import uninstall
from lab.lb.state import lb_dir, muxes_of
from lab.plan.model import Plan

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


def _noop() -> None:
    pass


def diff(plan: Plan, journal: Any = None, probes: bool = True) -> list[Change]:
    """Every difference between the plan and the running LBs, each with its
    action: datapaths, rules and backends (lab.lb.converge), the BGP speakers
    (lab.lb.bgp), the probe daemon; `up` applies exactly these."""
    changes = converge.diff_muxes(plan, journal) + converge.diff_backend_vips(plan) + bgp.diff(plan, journal)
    if probes and plan.muxes and not _daemon_pid(plan.lab):
        changes.append(Change(plan.lab, "create", "probed", f"probe daemon of {plan.lab}",
                              lambda: start_probes(plan.lab) and None))
    return changes


def up(plan: Plan, journal: Any = None, progress: Progress = _quiet,
       probes: bool = True) -> list[Change]:
    """Converge the LBs to the plan; idempotent."""
    changes = diff(plan, journal, probes)
    for change in changes:
        progress(f"load balancer: {change.action} {change.kind} {change.target}")
        change.apply()
    if plan.muxes:
        bgp.settle(plan, any(c.kind == "frr" for c in changes))
    return changes


def down(lab: str, progress: Progress = _quiet) -> list[str]:
    removed = []
    if stop_probes(lab):
        removed.append(f"probe daemon of {lab}")
    removed += bgp.down(lab)
    for mux in muxes_of(lab):
        progress(f"load balancer on {mux}")
        uninstall(lab, mux)
        removed.append(f"xdp-lb {mux}")
    loader.remove_root(loader.pin_root(lab))
    return removed


def status(lab: str) -> dict[str, Any]:
    from lab.lb.status import lb_status

    if not muxes_of(lab):
        return {}
    routing = bgp.status(lab)
    return {"load_balancers": lb_status(lab), **({"bgp": routing} if routing else {})}


# ---- the probe daemon ------------------------------------------------------
def _pid_file(lab: str):
    return lb_dir(lab) / "probed.pid"


def _daemon_pid(lab: str) -> int | None:
    try:
        pid = int(_pid_file(lab).read_text())
        cmdline = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
    except (OSError, ValueError):
        return None
    return pid if b"lab.lb.probed" in cmdline and lab.encode() in cmdline else None


def start_probes(lab: str) -> int:
    pid = _daemon_pid(lab)
    if pid:
        return pid
    log = open(lb_dir(lab) / "probed.log", "ab")
    proc = subprocess.Popen([sys.executable, "-m", "lab.lb.probed", lab], stdout=log, stderr=log,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    _pid_file(lab).write_text(str(proc.pid))
    return proc.pid


def stop_probes(lab: str, timeout: float = 5.0) -> bool:
    pid = _daemon_pid(lab)
    _pid_file(lab).unlink(missing_ok=True)
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return True
        except ChildProcessError:
            if not _alive(pid):
                return True
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    return True


def _alive(pid: int) -> bool:
    """Running (a zombie whose parent is gone counts as ended)."""
    try:
        stat = open(f"/proc/{pid}/stat").read()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
