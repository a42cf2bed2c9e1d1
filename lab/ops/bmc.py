"""The lifecycle host's BMC process: one Redfish emulator per lab
(lab.ops.bmc_server), one endpoint per server listening in the lifecycle
host's namespace, with its config, log and pid under `<lab_dir>/bmc/`.

Started by `up` (journalled before it starts), stopped by `down`. The
process is found by its command line, which names this lab's config and
mark, never by a program name and not only by the pid file: `up` killed
between starting the emulator and writing its pid file leaves an emulator
that `down` still finds and stops.
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

from lab.apply.netns import inside, namespace_exists
from lab.apply.process import terminate
from lab.compute.daemons import URI, LibvirtUnavailable, ensure_daemons
from lab.ops.secrets import htpasswd_path
from lab.paths import lab_dir
from lab.plan.model import BmcPlan, Plan

START_TIMEOUT_S = 30.0
MODULE = "lab.ops.bmc_server"


class BmcStartError(RuntimeError):
    """The emulator did not come up (names its log)."""


def bmc_dir(lab: str) -> Path:
    return lab_dir(lab) / "bmc"


def config_path(lab: str) -> Path:
    return bmc_dir(lab) / "emulator.json"


def _pid_path(lab: str) -> Path:
    return bmc_dir(lab) / "emulator.pid"


def log_path(lab: str) -> Path:
    return bmc_dir(lab) / "emulator.log"


def state_dir(lab: str) -> Path:
    """The emulator's own state (LEDs, virtual media): sushy-tools would keep it
    in /tmp/sushy-emulator, shared by every lab and left behind by `down`."""
    return bmc_dir(lab) / "state"


def desired_config(plan: Plan) -> dict:
    assert plan.lifecycle_host is not None
    return {"lab": plan.lab, "mark": plan.mark, "uri": URI, "auth_file": str(htpasswd_path(plan.lab)),
            "state_dir": str(state_dir(plan.lab)),
            "namespace": plan.lifecycle_host.namespace, "plan": plan.model_dump(mode="json")}


def config(lab: str) -> dict | None:
    try:
        return json.loads(config_path(lab).read_text())
    except (OSError, ValueError):
        return None


def endpoints(lab: str) -> tuple[str, list[BmcPlan]] | None:
    """(lifecycle host namespace, every server's BMC) as the emulator serves them."""
    conf = config(lab)
    if conf is None:
        return None
    hlh = (conf.get("plan") or {}).get("lifecycle_host") or {}
    return conf["namespace"], [BmcPlan.model_validate(b) for b in hlh.get("bmcs", [])]


def url(bmc: BmcPlan) -> str:
    return f"http://{bmc.address}:{bmc.port}/redfish/v1"


def pids(lab: str, mark: str | None = None) -> list[int]:
    """Emulators of this lab: their command line runs MODULE on this lab's config with its mark."""
    mark = mark or f"stacklab:{lab}"
    want = [b"-m", MODULE.encode(), str(config_path(lab)).encode(), mark.encode()]
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv[1:5] == want:
            found.append(int(entry.name))
    return found


def pid(lab: str) -> int | None:
    found = pids(lab)
    return found[0] if found else None


def running(lab: str) -> bool:
    return bool(pids(lab))


def answers(namespace: str, address: str, port: int, timeout: float = 2.0) -> bool:
    """The Redfish service root answers 200, asked from inside the lifecycle
    host's namespace (never from the root one). A bare TCP connect would not
    do: a listening socket accepts into its backlog before the server serves."""
    if not namespace_exists(namespace):
        return False
    with inside(namespace):
        sock = socket.socket()
    with sock:
        sock.settimeout(timeout)
        try:
            sock.connect((address, port))
            sock.sendall(f"GET /redfish/v1/ HTTP/1.0\r\nHost: {address}\r\n\r\n".encode())
            return sock.recv(64).split(b"\r\n", 1)[0].split()[1:2] == [b"200"]
        except (OSError, IndexError):
            return False


def start(plan: Plan) -> list[int]:
    """Start the lab's emulator (idempotent); returns the BMC ports."""
    assert plan.lifecycle_host is not None
    lab, hlh = plan.lab, plan.lifecycle_host
    wanted = desired_config(plan)
    if running(lab) and config(lab) == wanted:
        return [b.port for b in hlh.bmcs]
    stop(lab)
    try:
        ensure_daemons()  # the emulator talks to libvirtd on each request
    except LibvirtUnavailable:
        pass  # it still answers Redfish for the servers; `hlh.bmc.reachable` says what is missing
    bmc_dir(lab).mkdir(parents=True, exist_ok=True)
    config_path(lab).write_text(json.dumps(wanted))
    with open(log_path(lab), "ab") as log:  # in the host's namespace; it listens in hlh's
        proc = subprocess.Popen([sys.executable, "-m", MODULE, str(config_path(lab)), plan.mark],
                                stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
    _pid_path(lab).write_text(str(proc.pid))
    deadline = time.monotonic() + START_TIMEOUT_S
    while not all(answers(hlh.namespace, b.address, b.port) for b in hlh.bmcs):
        if proc.poll() is not None or time.monotonic() > deadline:
            stop(lab)
            raise BmcStartError(f"BMC emulator of lab {lab} did not answer on {len(hlh.bmcs)} endpoint(s) in "
                                f"{hlh.namespace} within {START_TIMEOUT_S:.0f} s; see {log_path(lab)}")
        time.sleep(0.1)
    return [b.port for b in hlh.bmcs]


def stop(lab: str, timeout: float = 5.0) -> bool:
    """Stop every emulator of the lab; True if one was running."""
    found = pids(lab)
    for value in found:
        terminate(value, timeout)
    _pid_path(lab).unlink(missing_ok=True)
    return bool(found)


def kill(lab: str) -> int | None:
    """SIGKILL the emulator, pid file left behind (the bmc-down fault)."""
    found = pids(lab)
    for value in found:
        os.kill(value, signal.SIGKILL)
    return found[0] if found else None


def endpoint_status(lab: str) -> dict:
    """The emulator process and its endpoints (`url`/`port`: the first BMC's, kept for old readers)."""
    eps = endpoints(lab)
    bmcs = eps[1] if eps else []
    return {"url": url(bmcs[0]) if bmcs else None, "running": running(lab),
            "port": bmcs[0].port if bmcs else None, "namespace": eps[0] if eps else None,
            "pid": pid(lab), "bmcs": [{"server": b.server, "url": url(b)} for b in bmcs]}
