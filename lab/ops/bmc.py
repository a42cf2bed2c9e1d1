"""The lab's BMC process: one Redfish emulator per lab (lab.ops.bmc_server)
on a free loopback port, with its config, log and pid under
`<lab_dir>/bmc/`. Started by `up`, stopped by `down`, found again by its
pid file and command line (never by name), so a `down` after `kill -9` of
`up` still stops it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from lab.apply.process import terminate
from lab.compute.daemons import URI, LibvirtUnavailable, ensure_daemons
from lab.ops.bmc_server import LISTEN
from lab.ops.secrets import htpasswd_path
from lab.paths import lab_dir
from lab.plan.model import Plan

START_TIMEOUT_S = 20.0
MODULE = "lab.ops.bmc_server"


def bmc_dir(lab: str) -> Path:
    return lab_dir(lab) / "bmc"


def _config_path(lab: str) -> Path:
    return bmc_dir(lab) / "emulator.json"


def _pid_path(lab: str) -> Path:
    return bmc_dir(lab) / "emulator.pid"


def endpoint(lab: str) -> tuple[str, int] | None:
    try:
        return LISTEN, int(json.loads(_config_path(lab).read_text())["port"])
    except (OSError, ValueError, KeyError):
        return None


def url(lab: str) -> str | None:
    ep = endpoint(lab)
    return f"http://{ep[0]}:{ep[1]}/redfish/v1" if ep else None


def pid(lab: str) -> int | None:
    """The emulator's pid if it is ours and alive (its command line names its config)."""
    try:
        value = int(_pid_path(lab).read_text())
        cmdline = Path(f"/proc/{value}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return None
    return value if MODULE.encode() in cmdline and str(_config_path(lab)).encode() in cmdline else None


def running(lab: str) -> bool:
    return pid(lab) is not None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((LISTEN, 0))
        return s.getsockname()[1]


def _answers(port: int) -> bool:
    try:
        with socket.create_connection((LISTEN, port), timeout=0.5):
            return True
    except OSError:
        return False


def start(plan: Plan) -> int:
    """Start the lab's emulator (idempotent); returns its port."""
    lab = plan.lab
    if running(lab) and (ep := endpoint(lab)):
        return ep[1]
    try:
        ensure_daemons()  # the emulator talks to libvirtd on each request
    except LibvirtUnavailable:
        pass  # it still answers Redfish (no systems); `hlh.bmc.reachable` says why
    port = _free_port()
    config = {"lab": lab, "mark": plan.mark, "port": port, "uri": URI, "auth_file": str(htpasswd_path(lab))}
    bmc_dir(lab).mkdir(parents=True, exist_ok=True)
    _config_path(lab).write_text(json.dumps(config))
    log = open(bmc_dir(lab) / "emulator.log", "ab")
    proc = subprocess.Popen([sys.executable, "-m", MODULE, str(_config_path(lab))], stdout=log, stderr=log,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    log.close()
    _pid_path(lab).write_text(str(proc.pid))
    deadline = time.monotonic() + START_TIMEOUT_S
    while not _answers(port):
        if proc.poll() is not None or time.monotonic() > deadline:
            stop(lab)
            raise RuntimeError(f"BMC emulator of lab {lab} did not start on {LISTEN}:{port}; "
                               f"see {bmc_dir(lab) / 'emulator.log'}")
        time.sleep(0.1)
    return port


def stop(lab: str, timeout: float = 5.0) -> bool:
    """Stop the emulator; True if one was running."""
    value = pid(lab)
    _pid_path(lab).unlink(missing_ok=True)
    if value is None:
        return False
    terminate(value, timeout)
    return True


def kill(lab: str) -> int | None:
    """SIGKILL the emulator, pid file left behind (the bmc-down fault)."""
    value = pid(lab)
    if value is not None:
        os.kill(value, signal.SIGKILL)
    return value


def endpoint_status(lab: str) -> dict:
    ep = endpoint(lab)
    return {"url": url(lab), "running": running(lab), "port": ep[1] if ep else None}
