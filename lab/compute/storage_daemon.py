"""qemu-storage-daemon processes of a lab: started inside a server's network
namespace, found again by their pid file, stopped by pid.

Each daemon is started with `--daemonize`: the command returns only once the
daemon has opened every block node and export on its command line (or failed
with QEMU's own message, which we raise), and its pid file is written before
that, so a `lab up` killed right after the start still leaves a pid file for
`lab down`. A pid counts as the daemon only while its command line names that
pid file (a recycled pid never matches) and it is not a zombie; the daemon is
never looked up by name.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from lab.apply.nsexec import run_in_namespace
from lab.apply.process import terminate

QSD = "qemu-storage-daemon"
START_TIMEOUT_S = 60.0


class StorageDaemonError(RuntimeError):
    """A storage daemon did not start (names it and QEMU's reason)."""


def monitor_args(qmp_socket: Path) -> list[str]:
    return ["--chardev", f"socket,id=qmp,path={qmp_socket},server=on,wait=off",
            "--monitor", "chardev=qmp,mode=control"]


def _cmdline(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None
    if state == "Z" or not raw:
        return None
    return raw.rstrip(b"\0").decode(errors="replace").split("\0")


def running_pid(pidfile: Path) -> int | None:
    """The daemon's pid while it runs, else None."""
    try:
        pid = int(Path(pidfile).read_text().strip())
    except (OSError, ValueError):
        return None
    argv = _cmdline(pid)
    return pid if argv and str(pidfile) in argv else None


def running_argv(pidfile: Path) -> list[str] | None:
    """The command line the running daemon was started with."""
    pid = running_pid(pidfile)
    return _cmdline(pid) if pid else None


def start(namespace: str, argv: list[str], pidfile: Path, what: str) -> int:
    """Start `argv` (a qemu-storage-daemon command line carrying `--pidfile
    pidfile --daemonize`) in `namespace`; its pid once it serves."""
    Path(pidfile).parent.mkdir(parents=True, exist_ok=True)
    try:
        done = run_in_namespace(namespace, argv, timeout=START_TIMEOUT_S)
    except FileNotFoundError as exc:
        raise StorageDaemonError(f"{what}: {QSD} not found (scripts/install-deps.sh)") from exc
    pid = running_pid(pidfile)
    if done.returncode != 0 or pid is None:
        raise StorageDaemonError(f"{what} did not start in {namespace} (exit {done.returncode}): "
                                 f"{(done.stderr or done.stdout).strip()[-600:]}")
    return pid


def stop(pidfile: Path, crash: bool = False) -> bool:
    """End the daemon (SIGTERM, then SIGKILL; `crash`: SIGKILL at once, as a
    server that loses power); whether one was running. The pid file goes too."""
    pid = running_pid(pidfile)
    if pid is not None:
        if crash:
            os.kill(pid, signal.SIGKILL)
        else:
            terminate(pid)
        deadline = time.monotonic() + 5.0
        while _cmdline(pid) is not None and time.monotonic() < deadline:
            time.sleep(0.02)  # gone (or a zombie): its sockets are closed
    Path(pidfile).unlink(missing_ok=True)
    return pid is not None
