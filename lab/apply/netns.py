"""Network namespaces: create, find by ownership mark, open netlink inside.

A namespace has no label of its own, so the lab's mark goes on its loopback
(ifalias). Netlink sockets hold a reference to their namespace: every socket
is closed before a namespace is removed, or its links would linger unseen.
"""

from __future__ import annotations

import ctypes
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pyroute2 import IPRoute, netns

NETNS_DIR = Path("/run/netns")


def list_namespaces() -> list[str]:
    return sorted(p.name for p in NETNS_DIR.iterdir()) if NETNS_DIR.exists() else []


def host_netns_path() -> str:
    """The host's own namespace: PID 1's where we may open it (a sandbox may
    forbid that), else this process's main thread's (/proc/self is the thread
    group leader, which stays in the host's namespace but for the moment
    `_new_namespace` creates one)."""
    try:
        os.close(os.open("/proc/1/ns/net", os.O_RDONLY))
        return "/proc/1/ns/net"
    except OSError:
        return "/proc/self/ns/net"


def namespace_exists(name: str) -> bool:
    return (NETNS_DIR / name).exists()


@contextmanager
def inside(name: str) -> Iterator[None]:
    """Run the body with this thread in namespace `name` (sockets opened
    here stay bound to it; /proc/sys/net refers to it). An empty name is the
    current namespace (a real server's own). A namespace that does not exist
    is an error, never created: pyroute2's pushns would create it, and a
    check or teardown running late would then leave an empty namespace behind.
    The namespace to return to is this thread's own, kept here: pyroute2's
    pushns/popns keep one stack for all threads and save the main thread's
    namespace, so two threads inside at once could leave one of them (the
    main one included) in a lab namespace, and every process it then starts
    (a `lab up` making VM taps in "the host's" namespace) there too."""
    if not name:
        yield
        return
    if not namespace_exists(name):
        raise FileNotFoundError(f"network namespace {name!r} does not exist")
    saved = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        netns.setns(str(NETNS_DIR / name), flags=0)
        try:
            yield
        finally:
            netns.setns(saved, flags=0)
    finally:
        os.close(saved)


class Sockets:
    """One netlink socket per namespace, reused across phases."""

    def __init__(self) -> None:
        self._open: dict[str, IPRoute] = {}

    def __call__(self, namespace: str) -> IPRoute:
        ipr = self._open.get(namespace)
        if ipr is None:
            with inside(namespace):
                ipr = IPRoute()
            self._open[namespace] = ipr
        return ipr

    def release(self, namespace: str) -> None:
        ipr = self._open.pop(namespace, None)
        if ipr is not None:
            ipr.close()

    def close(self) -> None:
        for name in list(self._open):
            self.release(name)

    def __enter__(self) -> Sockets:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000


def _new_namespace(name: str) -> None:
    """Create and pin a namespace from this thread, then return to ours.
    (pyroute2's netns.create forks a child per namespace: 20x slower.)"""
    if threading.current_thread() is not threading.main_thread():
        netns.create(name)
        return
    saved = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        if _libc.unshare(CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNET) failed", name)
        netns.attach(name, "thread-self")
    finally:
        netns.setns(saved, flags=0)
        os.close(saved)


def create_namespace(name: str, mark: str, sockets: Sockets) -> None:
    _new_namespace(name)
    ipr = sockets(name)
    ipr.link("set", index=1, ifalias=mark, state="up")


def namespace_mark(name: str) -> str | None:
    """The ownership mark on the namespace's loopback, None if unmarked."""
    if not namespace_exists(name):
        return None
    try:
        with inside(name):
            ipr = IPRoute()
        with ipr:
            return ipr.get_links(1)[0].get("IFLA_IFALIAS")
    except OSError:
        return None


def remove_namespace(name: str, sockets: Sockets | None = None) -> None:
    if sockets is not None:
        sockets.release(name)
    if namespace_exists(name):
        netns.remove(name)


def marked_namespaces(mark: str) -> list[str]:
    """Every namespace carrying this mark, whatever its name."""
    return [ns for ns in list_namespaces() if namespace_mark(ns) == mark]


def write_sysctl(namespace: str, key: str, value: str) -> None:
    with inside(namespace):
        Path("/proc/sys", *key.split(".")).write_text(value)


def read_sysctl(namespace: str, key: str) -> str | None:
    with inside(namespace):
        try:
            return Path("/proc/sys", *key.split(".")).read_text().strip()
        except OSError:
            return None
