"""What `lab status` shows about VMs, read from libvirt and the lab directory
(never from the plan alone: a crashed or hand-edited VM must show as it is)."""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree as ET

import libvirt

from lab.compute import disks, domain_xml, libvirt_driver, paths, provision
from lab.compute.daemons import connect
from lab.plan.naming import mark_for

_STATES = {
    libvirt.VIR_DOMAIN_RUNNING: "running", libvirt.VIR_DOMAIN_BLOCKED: "running",
    libvirt.VIR_DOMAIN_PAUSED: "paused", libvirt.VIR_DOMAIN_SHUTDOWN: "shutting-down",
    libvirt.VIR_DOMAIN_SHUTOFF: "shut-off", libvirt.VIR_DOMAIN_CRASHED: "crashed",
}


def vm_status(lab: str, lab_dir: Path) -> list[dict]:
    """One entry per domain carrying this lab's mark."""
    conn = connect()
    try:
        return [_one(dom, meta, Path(lab_dir))
                for dom, meta in sorted(libvirt_driver.lab_domains(conn, mark_for(lab)),
                                        key=lambda dm: dm[0].name())]
    finally:
        conn.close()


def _one(dom: libvirt.virDomain, meta: dict, lab_dir: Path) -> dict:
    xml = dom.XMLDesc()
    root = ET.fromstring(xml)
    running = bool(dom.isActive())
    vm = meta["vm"]
    disk_rows = []
    for d in domain_xml.attached_disks(xml):
        if running:
            d["iops_cap"] = libvirt_driver.live_iops_cap(dom, str(d["dev"]))
        d["lease"] = disks.lease_state(lab_dir, Path(str(d["file"])), dom.name(), running)
        disk_rows.append(d)
    prov = provision.read_state(lab_dir, vm)
    plugged = libvirt_driver.tap_bridge(meta.get("namespace", ""), meta.get("port", "")) if running \
        else None
    memory_mib = int(root.findtext("memory") or 0) // 1024
    row = {
        "name": vm,
        "vm": vm,
        "domain": dom.name(),
        "domain_type": root.get("type"),
        "state": _STATES.get(dom.state()[0], "unknown"),
        "server": meta.get("server"),
        "tenant": meta.get("tenant"),
        "address": meta.get("address"),
        "size": meta.get("size"),
        "vcpus": int(root.findtext("vcpu") or 0),
        "memory_mib": memory_mib,
        "memory_note": f"embedded scale-down of {meta.get('size')} "
                       f"(1/{domain_xml.MEMORY_SCALE}, {domain_xml.MEMORY_MIN}-"
                       f"{domain_xml.MEMORY_MAX} MiB)",
        "nic": {"tap": meta.get("port"), "namespace": meta.get("namespace"),
                "bridge": meta.get("bridge")},
        "disks": disk_rows,
        "leases_consistent": all(d["lease"] != "inconsistent" for d in disk_rows),
        "provisioning": {k: prov.get(k) for k in ("state", "exit_code", "error", "output")
                         if k in prov},
        "serial_log": str(paths.serial_log(lab_dir, vm)),
    }
    row["nic"]["plugged_into"] = plugged
    row["health"] = _health(row)
    return row


def _health(row: dict) -> str:
    """'ok', or the first thing a person should look at."""
    if row["state"] != "running":
        return f"down ({row['state']})"
    if row["nic"]["plugged_into"] != row["nic"]["bridge"]:
        return f"nic not on {row['nic']['bridge']}"
    if not row["leases_consistent"]:
        return "inconsistent disk lease"
    prov = row["provisioning"]
    if prov.get("state") == "failed":
        return f"provisioning failed (exit {prov.get('exit_code')})"
    return "ok"


def inconsistent_disks(lab: str, lab_dir: Path) -> list[str]:
    """Disks attached to a running VM without a lease, as 'vm/disk (file)'."""
    return [f"{row['vm']}/{d['name']} ({d['file']})" for row in vm_status(lab, lab_dir)
            for d in row["disks"] if d["lease"] == "inconsistent"]
