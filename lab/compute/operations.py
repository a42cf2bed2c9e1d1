"""Day-2 operations on a running lab's VMs: run-command, live disk caps,
deleting and attaching disks under the lease rules."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from xml.etree import ElementTree as ET

import libvirt

from lab.compute import agent, disks, domain_xml, libvirt_driver, paths
from lab.compute.daemons import connect
from lab.plan.naming import mark_for

DSR_SYSCTLS = (  # a DSR backend, VM or namespace (lab.compute.endpoints)
    ("net.ipv4.conf.all.arp_ignore", "1"),    # never answer ARP for the VIP on lo
    ("net.ipv4.conf.all.arp_announce", "2"),  # never source ARP from the VIP
    ("net.ipv4.conf.all.rp_filter", "0"),     # packets to the VIP arrive from anywhere
    ("net.ipv4.conf.eth0.rp_filter", "0"),
)


class VmNotFound(LookupError):
    """No domain of this lab carries that VM name."""


def _domain(conn: libvirt.virConnect, lab: str, vm: str) -> libvirt.virDomain:
    for dom, meta in libvirt_driver.lab_domains(conn, mark_for(lab)):
        if meta.get("vm") == vm:
            return dom
    raise VmNotFound(f"lab '{lab}' has no VM '{vm}' (see `lab status`)")


def exec_vm(lab: str, lab_dir: Path, vm: str, command: str,
            timeout_s: float = 120.0) -> agent.RunResult:
    """`lab vm exec`: run a command in the guest through the agent."""
    conn = connect()
    try:
        if not _domain(conn, lab, vm).isActive():
            raise agent.AgentError(f"VM '{vm}' is not running")
    finally:
        conn.close()
    return agent.run_command(paths.agent_socket(Path(lab_dir), vm), command, timeout_s)


def _disk_dev(dom: libvirt.virDomain, disk: str) -> tuple[str, str]:
    for d in domain_xml.attached_disks(dom.XMLDesc()):
        if d["name"] == disk:
            return str(d["dev"]), str(d["file"])
    raise VmNotFound(f"domain {dom.name()} has no disk '{disk}'")


def set_disk_cap(lab: str, vm: str, disk: str, cap: int | None) -> str:
    """Raise, lower or remove (None) a data disk's IOPS cap live; returns the dev."""
    conn = connect()
    try:
        dom = _domain(conn, lab, vm)
        dev, _ = _disk_dev(dom, disk)
        libvirt_driver.set_iops_cap(dom, dev, cap)
        return dev
    finally:
        conn.close()


def delete_disk_file(lab_dir: Path, disk_file: Path) -> None:
    """Delete a disk file: refused while a running VM holds its lease."""
    conn = connect()
    try:
        disks.delete_disk(Path(lab_dir), disk_file,
                          lambda d: libvirt_driver.is_running(conn, d))
    finally:
        conn.close()


def attach_disk_file(lab: str, lab_dir: Path, vm: str, disk_file: Path, name: str,
                     dev: str) -> None:
    """Attach an existing disk file to a running VM (hot-plug), taking its
    lease first: refused while another running VM holds it."""
    conn = connect()
    try:
        dom = _domain(conn, lab, vm)
        disks.acquire_lease(Path(lab_dir), disk_file, vm, dom.name(),
                            lambda d: libvirt_driver.is_running(conn, d))
        el = ET.Element("disk", type="file", device="disk")
        ET.SubElement(el, "driver", name="qemu", type="qcow2")
        ET.SubElement(el, "source", file=str(disk_file))
        ET.SubElement(el, "target", dev=dev, bus="virtio")
        ET.SubElement(el, "serial").text = name
        dom.attachDeviceFlags(ET.tostring(el, encoding="unicode"),
                              libvirt.VIR_DOMAIN_AFFECT_LIVE)
    finally:
        conn.close()


def add_vips(lab: str, lab_dir: Path, vm: str, vips: list[str]) -> agent.RunResult:
    """Hold load-balancer VIPs on the guest's lo (DSR backends answer for the
    VIP directly) without ARPing for them; idempotent. VIPs given at boot go
    on the kernel command line instead (ensure_vms(vips=...))."""
    addrs = [str(ipaddress.IPv4Address(v)) for v in vips]  # validates: no shell injection
    script = "\n".join(
        [f"sysctl -q -w {key}={value}" for key, value in DSR_SYSCTLS]
        + [f"ip addr show dev lo | grep -q ' {a}/32' || {{ ip addr add {a}/32 dev lo && "
           f"echo 'added {a}'; }}" for a in addrs]
        + ["ip -4 addr show dev lo"])
    result = exec_vm(lab, lab_dir, vm, script, timeout_s=30)
    if not result.ok:
        raise agent.AgentError(f"adding VIPs to {vm} failed ({result.exit_code}): {result.output}")
    return result
