"""Load, pin, attach and remove the XDP programs.

libbpf (through bpftool) parses the ELF, creates the maps and pins them under
/sys/fs/bpf/stacklab/<lab>/; pyroute2 attaches the pinned program by fd in
native (driver) mode to an interface inside a namespace. `unload` removes
every pin it made, so a lab leaves no BPF residue.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pyroute2 import IPRoute

from lab.apply.netns import inside
from lab.lb.bpfsys import BpfMap, GlobalTable, obj_get

BPFFS = Path("/sys/fs/bpf")
XDP_FLAGS_DRV_MODE = 1 << 2
MAP_NAMES = ("lb_pair_stats", "lb_global")
# the datapath's globals (bpf/maps.h), one .data.<name> section each
TABLE_NAMES = ("config", "vips", "backends", "rings", "conn", "pairs")


class LoadError(RuntimeError):
    """bpftool or the kernel refused the program; carries the verifier log."""


def pin_root(lab: str) -> Path:
    return BPFFS / "stacklab" / lab


def ensure_bpffs() -> None:
    """The BPF filesystem is not mounted on a fresh machine of this kind."""
    if os.path.ismount(BPFFS):
        return
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    if libc.mount(b"bpf", str(BPFFS).encode(), b"bpf", 0, None) != 0:
        err = ctypes.get_errno()
        raise LoadError(f"cannot mount bpffs on {BPFFS}: {os.strerror(err)}")


@dataclass(frozen=True)
class Pinned:
    """A program pinned with its maps: paths only, so it survives the process."""

    prog: Path
    maps: Path

    def map(self, name: str) -> BpfMap:
        return BpfMap.pinned(str(self.maps / name))

    def table(self, name: str, record_size: int) -> GlobalTable:
        """The global in section .data.<name> (bpftool pins it as _data_<name>)."""
        return GlobalTable.pinned(str(self.maps / f"_data_{name}"), record_size)

    def prog_fd(self) -> int:
        return obj_get(str(self.prog))


def load(obj: Path, root: Path, name: str) -> Pinned:
    """bpftool prog load: program at root/name, its maps at root/name_maps/."""
    ensure_bpffs()
    root.mkdir(parents=True, exist_ok=True)
    prog, maps = root / name, root / f"{name}_maps"
    if prog.exists():
        raise LoadError(f"{prog} is already pinned; unload it first")
    # no "type": libbpf takes it from the section, xdp.frags (multi-buffer
    # aware, needed to attach to a veth with MTU 9000)
    cmd = ["bpftool", "prog", "load", str(obj), str(prog), "pinmaps", str(maps)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        shutil.rmtree(maps, ignore_errors=True)
        raise LoadError(f"bpftool prog load {obj.name} failed:\n{proc.stderr[-4000:]}")
    return Pinned(prog, maps)


def unpin(pinned: Pinned) -> None:
    pinned.prog.unlink(missing_ok=True)
    shutil.rmtree(pinned.maps, ignore_errors=True)


def remove_root(root: Path) -> None:
    """Remove every pin under root (and root itself, and empty parents up to bpffs)."""
    if root.exists():
        shutil.rmtree(root, ignore_errors=True)
    parent = root.parent
    while parent != BPFFS and parent.exists() and not any(parent.iterdir()):
        parent.rmdir()
        parent = parent.parent


@contextmanager
def netlink(namespace: str | None) -> Iterator[IPRoute]:
    """An IPRoute socket bound to `namespace` (None: the current one)."""
    if namespace is None:
        ipr = IPRoute()
    else:
        with inside(namespace):
            ipr = IPRoute()
    try:
        yield ipr
    finally:
        ipr.close()


def _index(ipr: IPRoute, ifname: str) -> int:
    found = ipr.link_lookup(ifname=ifname)
    if not found:
        raise LoadError(f"no interface {ifname!r} in this namespace")
    return found[0]


def attach(namespace: str | None, ifname: str, prog_fd: int, native: bool = True) -> None:
    flags = XDP_FLAGS_DRV_MODE if native else 0
    with netlink(namespace) as ipr:
        idx = _index(ipr, ifname)
        ipr.link("set", index=idx,
                 xdp={"attrs": [("IFLA_XDP_FD", prog_fd), ("IFLA_XDP_FLAGS", flags)]})


def detach(namespace: str | None, ifname: str) -> None:
    """Remove the XDP program; quiet when the namespace or link is already gone."""
    try:
        with netlink(namespace) as ipr:
            found = ipr.link_lookup(ifname=ifname)
            if found:
                ipr.link("set", index=found[0], xdp={"attrs": [("IFLA_XDP_FD", -1)]})
    except (OSError, FileNotFoundError):
        return


def attached_prog_id(namespace: str | None, ifname: str) -> int:
    """Id of the XDP program on the link (0 = none)."""
    with netlink(namespace) as ipr:
        link = ipr.get_links(_index(ipr, ifname))[0]
    xdp = link.get_attr("IFLA_XDP")
    if xdp is None:
        return 0
    return xdp.get_attr("IFLA_XDP_PROG_ID") or 0
