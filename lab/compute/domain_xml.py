"""Libvirt domain XML for a planned VM.

Choices that show in `lab status`:
- memory: the VM size's memory scaled down for the embedded lab
  (size MiB / MEMORY_SCALE, clamped to MEMORY_MIN..MEMORY_MAX): the guest is a
  busybox system that needs little, and one laptop-sized host runs many;
- addressing: the host decides the address and passes it on the kernel
  command line (stacklab.ip=, .gw=, .mtu=); rc.boot applies it. Like Azure's
  host-side DHCP the address comes from the platform, but without a DHCP
  daemon per tenant bridge, and the guest is addressed before its first packet;
- QEMU runs as root with DAC relabelling off, so it can use the lab directory
  (disks, serial log, agent socket) without chown games.
Ownership: <metadata> carries the lab and VM, so teardown after a crash finds
domains by mark, never by name alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree as ET

from lab.compute import guest_files
from lab.plan.model import EndpointPlan

METADATA_NS = "https://stacklab.invalid/xmlns/vm/1"
MEMORY_SCALE = 16
MEMORY_MIN = 128
MEMORY_MAX = 256
TCG_TB_CACHE_MIB = 32
# Boot speed under TCG: CPU-bug mitigations cost emulated time and buy nothing
# in a lab guest. ACPI stays on: without it the guest loses HPET and the ACPI
# PM timer, falls back to a tick clock that runs slow on a loaded host, and
# fio then over-reports IOPS (measured: 574 on a 500 cap).
BOOT_ARGS = ("console=ttyS0", "panic=-1", "mitigations=off", "8250.nr_uarts=1",
             "random.trust_cpu=on")


def domain_name(lab: str, vm: str) -> str:
    """'<lab>.<vm>': '.' is not allowed in either name, so no two labs collide."""
    return f"{lab}.{vm}"


def embedded_memory_mib(size_memory_mb: int) -> int:
    return max(MEMORY_MIN, min(MEMORY_MAX, size_memory_mb // MEMORY_SCALE))


@dataclass(frozen=True)
class DiskSpec:
    """A disk of the domain: an image file, or (with `export`) the NBD export
    served on the unix socket `path` (a mirrored disk's quorum)."""

    name: str
    path: Path
    dev: str
    iops_cap: int | None = None
    export: str | None = None


@dataclass(frozen=True)
class DomainSpec:
    lab: str
    mark: str
    vm: EndpointPlan
    domain_type: str  # kvm or qemu
    kernel: Path
    initrd: Path
    serial_log: Path
    agent_socket: Path
    disks: list[DiskSpec]
    vips: list[str] = field(default_factory=list)


def kernel_cmdline(vm: EndpointPlan, vips: list[str]) -> str:
    args = [*BOOT_ARGS, f"stacklab.name={vm.name}",
            f"stacklab.ip={vm.address}/{vm.prefixlen}", f"stacklab.gw={vm.gateway}",
            f"stacklab.mtu={vm.mtu}"]
    if vips:
        args.append("stacklab.vips=" + ",".join(vips))
    return " ".join(args)


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, tag, attrs)
    if text is not None:
        el.text = text
    return el


def _metadata(root: ET.Element, spec: DomainSpec) -> None:
    meta = _sub(_sub(root, "metadata"), f"{{{METADATA_NS}}}vm")
    vm = spec.vm
    for key, value in (("mark", spec.mark), ("lab", spec.lab), ("vm", vm.name),
                       ("server", vm.server), ("tenant", vm.tenant), ("address", vm.address),
                       ("size", vm.size), ("port", vm.port), ("namespace", vm.server_namespace),
                       ("bridge", vm.bridge)):
        _sub(meta, f"{{{METADATA_NS}}}{key}", value)


def _disk(devices: ET.Element, disk: DiskSpec) -> None:
    if disk.export is None:
        el = _sub(devices, "disk", type="file", device="disk")
        _sub(el, "driver", name="qemu", type="qcow2", cache="writeback")
        _sub(el, "source", file=str(disk.path))
    else:  # the quorum's NBD export: QEMU sends every write on at once (no host cache to flush)
        el = _sub(devices, "disk", type="network", device="disk")
        _sub(el, "driver", name="qemu", type="raw", cache="none")
        _sub(_sub(el, "source", protocol="nbd", name=disk.export), "host", transport="unix", socket=str(disk.path))
    _sub(el, "target", dev=disk.dev, bus="virtio")
    _sub(el, "serial", disk.name)
    if disk.iops_cap is not None:
        _sub(_sub(el, "iotune"), "total_iops_sec", str(disk.iops_cap))


def _devices(root: ET.Element, spec: DomainSpec) -> None:
    devices = _sub(root, "devices")
    for disk in spec.disks:
        _disk(devices, disk)
    nic = _sub(devices, "interface", type="ethernet")
    _sub(nic, "mac", address=spec.vm.mac)
    _sub(nic, "target", dev=spec.vm.port, managed="yes")
    _sub(nic, "model", type="virtio")
    _sub(nic, "mtu", size=str(spec.vm.mtu))
    serial = _sub(devices, "serial", type="file")
    _sub(serial, "source", path=str(spec.serial_log), append="off")
    _sub(serial, "target", port="0")
    channel = _sub(devices, "channel", type="unix")
    _sub(channel, "source", mode="bind", path=str(spec.agent_socket))
    _sub(channel, "target", type="virtio", name=guest_files.AGENT_PORT_NAME)
    _sub(devices, "memballoon", model="none")


def domain_xml(spec: DomainSpec) -> str:
    vm = spec.vm
    ET.register_namespace("sl", METADATA_NS)
    root = ET.Element("domain", type=spec.domain_type)
    _sub(root, "name", domain_name(spec.lab, vm.name))
    _sub(root, "title", f"stacklab {spec.lab}/{vm.name} ({vm.size})")
    _sub(root, "description", spec.mark)
    _metadata(root, spec)
    _sub(root, "memory", str(embedded_memory_mib(vm.memory_mb)), unit="MiB")
    _sub(root, "vcpu", str(vm.cores))
    os_el = _sub(root, "os")
    _sub(os_el, "type", "hvm", arch="x86_64", machine="pc")
    _sub(os_el, "kernel", str(spec.kernel))
    _sub(os_el, "initrd", str(spec.initrd))
    _sub(os_el, "cmdline", kernel_cmdline(vm, spec.vips))
    features = _sub(root, "features")
    _sub(features, "acpi")
    if spec.domain_type == "qemu":  # TCG: a small translation cache keeps RSS per VM down
        _sub(_sub(features, "tcg"), "tb-cache", str(TCG_TB_CACHE_MIB), unit="MiB")
    _sub(root, "clock", offset="utc")
    _sub(root, "on_poweroff", "destroy")
    _sub(root, "on_reboot", "restart")
    _sub(root, "on_crash", "destroy")
    label = _sub(root, "seclabel", type="static", model="dac", relabel="no")
    _sub(label, "label", "+0:+0")
    _devices(root, spec)
    return ET.tostring(root, encoding="unicode")


def read_metadata(xml: str) -> dict[str, str] | None:
    """The stacklab metadata of a domain's XML, None if it has none."""
    root = ET.fromstring(xml)
    meta = root.find(f"metadata/{{{METADATA_NS}}}vm")
    if meta is None:
        return None
    return {child.tag.split("}", 1)[1]: child.text or "" for child in meta}


def attached_disks(xml: str) -> list[dict[str, object]]:
    """Disks in a domain's XML: target dev, file (an NBD disk's socket),
    serial (our disk name), cap."""
    disks = []
    for el in ET.fromstring(xml).findall("devices/disk"):
        cap = el.findtext("iotune/total_iops_sec")
        source = el.find("source")
        host = source.find("host") if source is not None else None
        disks.append({"dev": el.find("target").get("dev"),
                      "file": source.get("file") or (host.get("socket") if host is not None else None),
                      "name": el.findtext("serial") or "",
                      "iops_cap": int(cap) if cap and int(cap) > 0 else None})
    return disks
