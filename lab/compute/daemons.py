"""libvirtd and virtlogd: started by us when absent (no systemd on lab hosts).

The daemons are machine-wide and shared by every lab: we start them, never
stop them.
"""

from __future__ import annotations

import fcntl
import os
import socket
import subprocess
import time
from pathlib import Path

import libvirt
from pyroute2 import netns

from lab.apply.netns import host_netns_path

URI = "qemu:///system"
LIBVIRT_SOCK = Path("/run/libvirt/libvirt-sock")
VIRTLOGD_SOCK = Path("/run/libvirt/virtlogd-sock")
LOCK = Path("/run/stacklab/daemons.lock")
START_TIMEOUT_S = 15.0


class LibvirtUnavailable(RuntimeError):
    """libvirtd could not be started or reached."""


def _socket_answers(path: Path) -> bool:
    if not path.exists():
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(1.0)
        try:
            s.connect(str(path))
            return True
        except OSError:
            return False


def _start(binary: str, sock: Path) -> None:
    try:
        # in the host's namespace whatever thread asks: libvirtd makes the taps
        # where it runs, and a daemon born in a lab namespace would die with it
        host = os.open(host_netns_path(), os.O_RDONLY)  # opened here: the child's /proc/self is its own
        try:
            subprocess.run([binary, "-d"], check=True, capture_output=True, timeout=30, pass_fds=(host,),
                           preexec_fn=lambda: netns.setns(host, flags=0))
        finally:
            os.close(host)
    except FileNotFoundError as exc:
        raise LibvirtUnavailable(f"{binary} not found: run scripts/install-deps.sh") from exc
    except subprocess.CalledProcessError as exc:
        raise LibvirtUnavailable(f"{binary} -d failed: {exc.stderr.decode().strip()}") from exc
    deadline = time.monotonic() + START_TIMEOUT_S
    while not _socket_answers(sock):
        if time.monotonic() > deadline:
            raise LibvirtUnavailable(f"{binary} started but {sock} does not answer")
        time.sleep(0.1)


def libvirt_answers() -> bool:
    return _socket_answers(LIBVIRT_SOCK)


def ensure_daemons() -> None:
    """Start what does not answer; one process at a time (a second `libvirtd -d`
    started meanwhile would fail on the first one's pid file)."""
    LOCK.parent.mkdir(parents=True, exist_ok=True)
    with LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _socket_answers(VIRTLOGD_SOCK):
            _start("virtlogd", VIRTLOGD_SOCK)
        if not _socket_answers(LIBVIRT_SOCK):
            _start("libvirtd", LIBVIRT_SOCK)


def _silence(_ctx: object, _err: object) -> None:
    """libvirt prints every error to stderr by default; we raise them instead."""


def connect() -> libvirt.virConnect:
    """A connection to qemu:///system, starting the daemons when needed."""
    libvirt.registerErrorHandler(_silence, None)
    ensure_daemons()
    try:
        return libvirt.open(URI)
    except libvirt.libvirtError as exc:
        raise LibvirtUnavailable(f"cannot open {URI}: {exc}") from exc
