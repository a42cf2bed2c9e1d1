"""The VPN daemons' processes: started in a lab namespace and a mount
namespace of their own, found again by pid file or by namespace, ended by pid.

charon writes its pid file to the fixed /var/run/charon.pid and wireguard-go
its control socket to /var/run/wireguard/<ifname>.sock, both shared by every
network namespace. So each daemon gets a private mount namespace with a tmpfs
on /run: two instances never meet there, and whatever they leave in /run
(sockets after a SIGKILL) goes with the mount namespace when the process
ends. Their control sockets are reached through /proc/<pid>/root (wireguard-go)
or a path in the lab directory (charon's VICI socket, configurable).

A daemon is journaled before it starts (kind `process`, detail: its network
namespace and binary), so `lab down` after a crash between the start and the
pid file finds it by namespace: a process whose network namespace is the
journaled one and whose executable is the journaled binary.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import time
from pathlib import Path

from pyroute2 import netns

from lab.apply.netns import NETNS_DIR
from lab.apply.process import alive

CLONE_NEWNS = 0x00020000
MS_NOSUID, MS_NODEV, MS_REC, MS_PRIVATE = 0x2, 0x4, 0x4000, 0x40000
_libc = ctypes.CDLL(None, use_errno=True)


def _private_run(namespace: str):
    """preexec: enter the lab namespace, then a new mount namespace whose /run
    is an empty tmpfs (mount events do not propagate back: rprivate first)."""
    path = str(NETNS_DIR / namespace)

    def enter() -> None:
        netns.setns(path, flags=0)
        if _libc.unshare(CLONE_NEWNS) != 0:
            raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNS)")
        if _libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) != 0:
            raise OSError(ctypes.get_errno(), "mount --make-rprivate /")
        if _libc.mount(b"tmpfs", b"/run", b"tmpfs", MS_NOSUID | MS_NODEV, b"mode=0755,size=4m") != 0:
            raise OSError(ctypes.get_errno(), "mount tmpfs /run")

    return enter


OWNER_ENV = "STACKLAB_DAEMON_DIR"  # in each daemon's environment: the directory it belongs to


def start(namespace: str, argv: list[str], pid_file: Path, log: Path, env: dict[str, str] | None = None) -> int:
    """Start `argv` in the foreground of its own session; returns its pid. Its
    environment names its directory (OWNER_ENV), so a person or a test can
    tell whose it is from /proc alone."""
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen(argv, preexec_fn=_private_run(namespace), stdin=subprocess.DEVNULL, stdout=out,
                                stderr=out, start_new_session=True,
                                env={**os.environ, OWNER_ENV: str(pid_file.parent), **(env or {})})
    pid_file.write_text(str(proc.pid))
    return proc.pid


def _netns_inode(namespace: str) -> int | None:
    try:
        return os.stat(NETNS_DIR / namespace).st_ino
    except OSError:
        return None


def _exe(pid: int) -> str:
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return ""


def running(pid_file: Path, binary: str) -> int | None:
    """The pid in `pid_file` if that process runs `binary`."""
    try:
        pid = int(pid_file.read_text())
    except (OSError, ValueError):
        return None
    return pid if alive(pid) and _exe(pid) == binary else None


def in_namespace(namespace: str, binary: str) -> list[int]:
    """Processes running `binary` inside the lab namespace (by its inode)."""
    inode = _netns_inode(namespace)
    if inode is None:
        return []
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.stat(entry / "ns" / "net").st_ino == inode and _exe(int(entry.name)) == binary:
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def stop(pids: list[int], timeout: float = 5.0) -> None:
    """TERM (a daemon cleans up: wireguard-go removes its device), then KILL."""
    for pid in pids:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        _reap(pids)
        time.sleep(0.05)
    for pid in pids:
        if alive(pid):
            _signal(pid, signal.SIGKILL)
    _reap(pids)


def kill(pid: int) -> None:
    """A crash: SIGKILL, nothing cleaned up."""
    _signal(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while alive(pid) and time.monotonic() < deadline:
        _reap([pid])
        time.sleep(0.02)
    _reap([pid])


def _reap(pids: list[int]) -> None:
    """Collect our own children (a daemon started by this process)."""
    for pid in pids:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass
