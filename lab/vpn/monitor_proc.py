"""Starting and stopping the lab's pair monitor (lab.vpn.monitor), by pid
file checked against its command line: never by name."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from lab.apply.process import alive, terminate
from lab.vpn.state import vpn_dir


def _pid_file(lab: str) -> Path:
    return vpn_dir(lab) / "monitor.pid"


def running(lab: str) -> int | None:
    try:
        pid = int(_pid_file(lab).read_text())
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return None
    return pid if b"lab.vpn.monitor" in argv and lab.encode() in argv and alive(pid) else None


def start(lab: str) -> int:
    pid = running(lab)
    if pid:
        return pid
    vpn_dir(lab).mkdir(parents=True, exist_ok=True)
    with open(vpn_dir(lab) / "monitor.log", "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "lab.vpn.monitor", lab], stdout=log, stderr=log,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    _pid_file(lab).write_text(str(proc.pid))
    return proc.pid


def stop(lab: str) -> bool:
    pid = running(lab)
    _pid_file(lab).unlink(missing_ok=True)
    if pid is None:
        return False
    terminate(pid)
    return True
