"""libvirt operations on lab VMs: KVM probe, define/start, find by ownership
mark, live IOPS caps, teardown, and the tap's move into the server namespace.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from pathlib import Path

import libvirt
from pyroute2 import IPRoute, netns

from lab.apply.netns import host_netns_path, inside, list_namespaces
from lab.compute import domain_xml
from lab.compute.image import GuestImage, cache_root
from lab.plan.model import EndpointPlan

PROBE_TIMEOUT_S = 6.0
PROBE_MARK = "stacklab:kvm-probe"
DOMAIN_TYPE_ENV = "STACKLAB_DOMAIN_TYPE"


class ComputeError(RuntimeError):
    """A VM could not be created or wired (names the VM and the cause)."""


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return "unknown"


def domain_type(conn: libvirt.virConnect, image: GuestImage) -> str:
    """'kvm' when a KVM guest really runs here, else 'qemu' (TCG). /dev/kvm may
    exist while guests hang (nested virtualisation off), so boot a probe guest
    and wait for its first kernel line. The answer is cached per host boot."""
    forced = os.environ.get(DOMAIN_TYPE_ENV)
    if forced in ("kvm", "qemu"):
        return forced
    if not Path("/dev/kvm").exists():
        return "qemu"
    memo = cache_root() / "kvm-probe.json"
    try:
        saved = json.loads(memo.read_text())
        if saved.get("boot_id") == _boot_id():
            return saved["domain_type"]
    except (OSError, ValueError):
        pass
    result = "kvm" if _kvm_guest_boots(conn, image) else "qemu"
    memo.parent.mkdir(parents=True, exist_ok=True)
    memo.write_text(json.dumps({"boot_id": _boot_id(), "domain_type": result,
                                "probed_at": time.time()}))
    return result


def _probe_xml(image: GuestImage, log: Path) -> str:
    return f"""<domain type='kvm'>
  <name>stacklab-kvm-probe-{os.getpid()}</name>
  <description>{PROBE_MARK}</description>
  <memory unit='MiB'>128</memory><vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><kernel>{image.kernel}</kernel>
      <initrd>{image.initrd}</initrd><cmdline>console=ttyS0 panic=-1</cmdline></os>
  <on_poweroff>destroy</on_poweroff><on_crash>destroy</on_crash>
  <seclabel type='static' model='dac' relabel='no'><label>+0:+0</label></seclabel>
  <devices><serial type='file'><source path='{log}'/><target port='0'/></serial>
    <memballoon model='none'/></devices>
</domain>"""


def _kvm_guest_boots(conn: libvirt.virConnect, image: GuestImage) -> bool:
    for dom in conn.listAllDomains():
        if dom.XMLDesc().find(f"<description>{PROBE_MARK}</description>") >= 0:
            _destroy(dom)  # a probe left by a killed earlier run
    with tempfile.TemporaryDirectory(prefix="stacklab-kvm-probe.") as tmp:
        log = Path(tmp) / "serial.log"
        try:
            dom = conn.createXML(_probe_xml(image, log), 0)
        except libvirt.libvirtError:
            return False
        try:
            deadline = time.monotonic() + PROBE_TIMEOUT_S
            while time.monotonic() < deadline:
                if log.exists() and b"Linux version" in log.read_bytes():
                    return True
                time.sleep(0.2)
            return False
        finally:
            _destroy(dom)


def _destroy(dom: libvirt.virDomain) -> None:
    try:
        if dom.isActive():
            dom.destroy()
    except libvirt.libvirtError:
        pass


def lab_domains(conn: libvirt.virConnect, mark: str) -> list[tuple[libvirt.virDomain, dict]]:
    """Every domain whose stacklab metadata carries this lab's mark."""
    found = []
    for dom in conn.listAllDomains():
        try:
            meta = domain_xml.read_metadata(dom.XMLDesc())
        except libvirt.libvirtError:
            continue  # vanished meanwhile
        if meta and meta.get("mark") == mark:
            found.append((dom, meta))
    return found


def lookup(conn: libvirt.virConnect, name: str) -> libvirt.virDomain | None:
    try:
        return conn.lookupByName(name)
    except libvirt.libvirtError:
        return None


def is_running(conn: libvirt.virConnect, name: str) -> bool:
    dom = lookup(conn, name)
    return bool(dom and dom.isActive())


QEMU_LOG_DIR = Path("/var/log/libvirt/qemu")


def remove_domain(dom: libvirt.virDomain) -> None:
    """Destroy and undefine; the tap goes with the QEMU process, and libvirt's
    own per-domain log (which it keeps after undefine) goes too: no residue."""
    name = dom.name()
    _destroy(dom)
    try:
        dom.undefine()
    except libvirt.libvirtError:
        pass  # transient, or already undefined
    (QEMU_LOG_DIR / f"{name}.log").unlink(missing_ok=True)


def set_iops_cap(dom: libvirt.virDomain, dev: str, cap: int | None) -> None:
    """Change a running disk's cap live (virsh blkdeviotune); None removes it.
    The persistent definition follows so a restart keeps the new cap."""
    params = {"total_iops_sec": int(cap or 0)}
    flags = libvirt.VIR_DOMAIN_AFFECT_LIVE
    if dom.isPersistent():
        flags |= libvirt.VIR_DOMAIN_AFFECT_CONFIG
    dom.setBlockIoTune(dev, params, flags)


def live_iops_cap(dom: libvirt.virDomain, dev: str) -> int | None:
    value = dom.blockIoTune(dev, libvirt.VIR_DOMAIN_AFFECT_LIVE).get("total_iops_sec", 0)
    return int(value) or None


def tap_mac(guest_mac: str) -> str:
    """The tap's own MAC: near the top of the unicast range. A bridge without
    an explicit MAC takes its lowest port's, and a bridge MAC change flushes
    every neighbour entry on it, including the fabric's permanent ARP-
    suppression entries; a tap above every random MAC never triggers that."""
    return "fe:ff:ff:" + guest_mac.lower()[-8:]


def plumb_tap(vm: EndpointPlan) -> bool:
    """Move the VM's tap from the root namespace into its server's namespace,
    enslave it to the tenant bridge, set MTU and up. Idempotent: returns
    whether anything changed."""
    changed = False
    with host_iproute() as root:
        idx = root.link_lookup(ifname=vm.port)
        if idx:
            root.link("set", index=idx[0], net_ns_fd=vm.server_namespace)
            changed = True
    with inside(vm.server_namespace):
        ipr = IPRoute()
    with ipr:
        tap = ipr.link_lookup(ifname=vm.port)
        bridge = ipr.link_lookup(ifname=vm.bridge)
        if not tap:
            raise ComputeError(f"VM {vm.name}: tap {vm.port} is in neither the root namespace "
                               f"nor {vm.server_namespace} (did QEMU die? see its serial log)")
        if not bridge:
            raise ComputeError(f"VM {vm.name}: bridge {vm.bridge} missing in "
                               f"{vm.server_namespace}: the fabric must be up first")
        link = ipr.get_links(tap[0])[0]
        if link.get("IFLA_ADDRESS") != tap_mac(vm.mac):  # before it joins the bridge
            ipr.link("set", index=tap[0], address=tap_mac(vm.mac))
            changed = True
        want = {"master": bridge[0], "mtu": vm.mtu}
        have = {"master": link.get("IFLA_MASTER"), "mtu": link.get("IFLA_MTU")}
        if have != want or link.get("flags", 0) & 1 == 0:
            ipr.link("set", index=tap[0], master=bridge[0], mtu=vm.mtu, state="up")
            changed = True
    return changed


_STATES = {getattr(libvirt, f"VIR_DOMAIN_{n}"): n.lower() for n in
           ("NOSTATE", "RUNNING", "BLOCKED", "PAUSED", "SHUTDOWN", "SHUTOFF", "CRASHED", "PMSUSPENDED")}


def post_mortem(conn: libvirt.virConnect, mark: str, vm: str, lines: int = 3) -> str:
    """What libvirt knows of a VM whose tap vanished: its state and reason
    code, and the last lines of QEMU's own log (why it exited)."""
    dom = next((d for d, meta in lab_domains(conn, mark) if meta.get("vm") == vm), None)
    if dom is None:
        return "its domain is gone"
    try:
        state, reason = dom.state()
    except libvirt.libvirtError as exc:
        return f"domain {dom.name()}: {exc}"
    log = Path("/var/log/libvirt/qemu") / f"{dom.name()}.log"
    try:
        tail = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()][-lines:]
    except OSError:
        tail = []
    return (f"domain {dom.name()} is {_STATES.get(state, state)} (reason {reason}); "
            f"its tap is {_where_is(_domain_tap(dom))}" + (f"; {log}: " + " | ".join(tail) if tail else ""))


def _domain_tap(dom: libvirt.virDomain) -> str:
    import xml.etree.ElementTree as ET

    target = ET.fromstring(dom.XMLDesc()).find("./devices/interface/target")
    return target.get("dev", "?") if target is not None else "?"


def host_iproute() -> IPRoute:
    """A netlink socket in the host's own namespace (PID 1's, where libvirtd
    makes taps), whichever namespace the calling thread happens to be in:
    the socket is opened by a short-lived thread that enters it."""
    made: list[IPRoute | BaseException] = []
    host_fd = os.open(host_netns_path(), os.O_RDONLY)

    def make() -> None:
        try:
            netns.setns(host_fd, flags=0)
            made.append(IPRoute())
        except BaseException as exc:  # handed to the caller below
            made.append(exc)

    t = threading.Thread(target=make, name="host-netns", daemon=True)
    t.start()
    t.join()
    os.close(host_fd)
    if isinstance(made[0], BaseException):
        raise made[0]
    return made[0]


def _where_is(ifname: str) -> str:
    """Which namespace holds a link of this name (a tap that went astray)."""
    here, host = os.readlink("/proc/thread-self/ns/net"), os.readlink(host_netns_path())
    if here != host:
        return f"unknown: this thread is in {here}, not the host's namespace {host}"
    with host_iproute() as ipr:
        if ipr.link_lookup(ifname=ifname):
            return f"{ifname} in the host's namespace"
    for ns in list_namespaces():
        try:
            with inside(ns):
                ipr = IPRoute()
            with ipr:
                if ipr.link_lookup(ifname=ifname):
                    return f"{ifname} in namespace {ns}"
        except OSError:
            continue
    return f"{ifname} in no named namespace"


def tap_in_place(vm: EndpointPlan) -> bool:
    """Whether plumb_tap would change nothing (read-only, for the dry run)."""
    with host_iproute() as root:
        if root.link_lookup(ifname=vm.port):
            return False
    if not Path("/run/netns", vm.server_namespace).exists():
        return False
    with inside(vm.server_namespace):
        ipr = IPRoute()
    with ipr:
        tap, bridge = ipr.link_lookup(ifname=vm.port), ipr.link_lookup(ifname=vm.bridge)
        if not tap or not bridge:
            return False
        link = ipr.get_links(tap[0])[0]
        return (link.get("IFLA_ADDRESS") == tap_mac(vm.mac) and link.get("IFLA_MASTER") == bridge[0]
                and link.get("IFLA_MTU") == vm.mtu and bool(link.get("flags", 0) & 1))


def tap_bridge(namespace: str, port: str) -> str | None:
    """Name of the bridge a VM's tap is enslaved to in its server namespace."""
    if not Path("/run/netns", namespace).exists():
        return None
    try:
        with inside(namespace):
            ipr = IPRoute()
    except OSError:
        return None
    with ipr:
        tap = ipr.link_lookup(ifname=port)
        if not tap:
            return None
        master = ipr.get_links(tap[0])[0].get("IFLA_MASTER")
        return ipr.get_links(master)[0].get("IFLA_IFNAME") if master else None
