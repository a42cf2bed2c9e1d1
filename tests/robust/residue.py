"""Everything a lab may leave on this machine, looked up independently of the
code that removes it: the kernel (namespaces, root-namespace links, BPF pins),
libvirt (domains), the process table (FRR, the probe daemon, the BMC
emulator, QEMU, a straggling bpftool or qemu-img) and the state directory
(the lab's directory, its lock).

A process belongs to a lab when its command line names the lab's directory
(FRR's pid files, QEMU's disks, the BMC's config) or is the lab's probe
daemon; a link when it carries the lab's mark or is one of its VMs' taps.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

from pyroute2 import IPRoute

from lab.apply.netns import list_namespaces, namespace_mark
from lab.lb.loader import pin_root
from lab.paths import lab_dir, lock_path
from lab.plan.naming import mark_for

ROOT = Path(__file__).resolve().parents[2]


def lab_cli(*args: str, timeout: float = 300, check: bool = True,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "lab", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, env=env, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"lab {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


def lab_processes(lab: str) -> list[str]:
    """pid and command of every process of this lab."""
    directory = str(lab_dir(lab)).encode()
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state == "Z":
            continue
        probed = b"lab.lb.probed" in argv and lab.encode() in argv
        if probed or any(directory in arg for arg in argv):
            found.append(f"process {proc.name}: {b' '.join(argv).decode(errors='replace')[:160]}")
    return found


def _domains(lab: str) -> list[str]:
    if not Path("/run/libvirt/libvirt-sock-ro").exists():
        return []  # no libvirtd: no domain
    import libvirt

    from lab.compute.libvirt_driver import lab_domains

    conn = libvirt.openReadOnly("qemu:///system")
    try:
        names = {d.name() for d in conn.listAllDomains() if d.name().startswith(f"{lab}.")}
        names |= {d.name() for d, _ in lab_domains(conn, mark_for(lab))}
    finally:
        conn.close()
    return [f"domain {n}" for n in sorted(names)]


def residue(lab: str, taps: Iterable[str] = ()) -> list[str]:
    """What of lab `lab` is still on this machine (empty: nothing)."""
    mark = mark_for(lab)
    found = [f"netns {ns}" for ns in list_namespaces()
             if ns.startswith(f"{lab}.") or namespace_mark(ns) == mark]
    wanted = set(taps)
    with IPRoute() as ipr:
        found += [f"link {link.get('IFLA_IFNAME')}" for link in ipr.get_links()
                  if link.get("IFLA_IFALIAS") == mark or link.get("IFLA_IFNAME") in wanted]
    found += _domains(lab)
    found += [f"bpf {p}" for p in [pin_root(lab)] if p.exists()]
    found += lab_processes(lab)
    found += [f"file {p}" for p in (lab_dir(lab), lock_path(lab)) if p.exists()]
    return found
