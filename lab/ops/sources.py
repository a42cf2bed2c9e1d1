"""What a log collection can take from one lab, by role.

The inventory comes from the saved plan (written at the end of `up`), else
the plan of the topology file given, else the journal alone: after `kill -9`
of `up` there is no saved plan, but the journal lists every namespace and
domain created, so those are still collected (their role unknown: taken
under --role all only). Nothing outside the lab is named: daemon logs shared
by the machine are narrowed to lines that name the lab's own domains.
VPN daemons write their logs beside their rendered configs, which hold the
tunnel's keys: only the logs are named, never a config.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from lab.apply.journal import Journal
from lab.compute.domain_xml import domain_name
from lab.paths import lab_dir, results_dir
from lab.plan.model import Plan

ROLES = ("compute", "mux", "tor", "gateway", "client", "vm")
LIBVIRT_LOG = Path("/var/log/libvirt/libvirtd.log")
QEMU_LOG_DIR = Path("/var/log/libvirt/qemu")
SKIP_SUFFIXES = (".qcow2", ".img", ".sock", ".pid", ".lock", ".tmp")
# plan roles collected under a ROLE: a VPN gateway instance is a gateway, an
# on-premises site sits on the external network beside the client
PLAN_ROLES = {"endpoint": "vm", "vpn": "gateway", "site": "client"}
VPN_LOGS = ("charon.log", "charon.stdout", "wireguard-go.log")  # lab.vpn.ikev2, lab.vpn.wireguard


@dataclass(frozen=True)
class Host:
    name: str
    role: str  # one of ROLES, or "unknown" (journal only)
    namespace: str


@dataclass(frozen=True)
class Vm:
    name: str
    domain: str


@dataclass
class Inventory:
    lab: str
    source: str  # saved plan, topology, journal
    hosts: list[Host] = field(default_factory=list)
    vms: list[Vm] = field(default_factory=list)
    routing: str = "unknown"  # bgp (FRR on the ToR and MUXes), static, or unknown (journal only)


@dataclass
class Item:
    """One thing to put in the archive: a file (filtered by the window), a
    snapshot taken now, or something known to be absent (and why)."""

    arcname: str
    role: str  # a ROLE, "lab" (always taken) or "unknown"
    kind: str
    path: Path | None = None
    produce: Callable[[], object] | None = None
    only_lines_with: tuple[str, ...] = ()  # machine-wide logs: keep the lab's lines
    missing: str = ""
    origin: str = ""  # where the file was written, when `path` is a copy (fetched from a real host)


def inventory(lab: str, plan: Plan | None, source: str) -> Inventory:
    if plan is not None:
        hosts = [Host(h.name, PLAN_ROLES.get(h.role, h.role), h.namespace) for h in plan.hosts]
        vms = [Vm(e.name, domain_name(lab, e.name)) for e in plan.vms()]
        return Inventory(lab, source, hosts, vms, "bgp" if plan.bgp is not None else "static")
    journal = Journal(lab)
    prefix = f"{lab}."
    hosts = [Host(r.name.removeprefix(prefix), "unknown", r.name) for r in journal.resources("netns")]
    vms = [Vm(r.name.removeprefix(prefix), r.name) for r in journal.resources("domain")]
    return Inventory(lab, "journal", hosts, vms)


SERVER_ROLES = ("compute", "mux")


def items(inv: Inventory, snapshot: Callable[[str], object], bpf_summary: Callable[[], object],
          bmc_inventory: Callable[[str], object] | None = None) -> list[Item]:
    """`bmc_inventory(server)`: what the server's BMC reports (a snapshot, like the kernel's)."""
    base = lab_dir(inv.lab)
    found = [Item("lab/resources.jsonl", "lab", "journal", base / "resources.jsonl"),
             Item("lab/plan.json", "lab", "plan", base / "plan.json")]
    found += _evidence(inv.lab)
    for host in inv.hosts:
        found.append(Item(f"hosts/{host.name}/kernel.json", host.role, "snapshot",
                          produce=lambda ns=host.namespace: snapshot(ns)))
        if bmc_inventory is not None and host.role in SERVER_ROLES:
            found.append(Item(f"hosts/{host.name}/bmc.json", host.role, "bmc-inventory",
                              produce=lambda name=host.name: bmc_inventory(name)))
    found += _mux_items(base, bpf_summary)
    found += _vm_items(inv, base)
    found += _daemon_items(inv)
    found += _ops_items(base)
    return found


def _files(root: Path, role: str, kind: str, arcdir: str) -> list[Item]:
    if not root.is_dir():
        return []
    return [Item(f"{arcdir}/{p.relative_to(root)}", role, kind, p) for p in sorted(root.rglob("*"))
            if p.is_file() and not p.name.endswith(SKIP_SUFFIXES)]


def _evidence(lab: str) -> list[Item]:
    verify = results_dir(lab) / "verify"
    found = _files(verify, "lab", "verify-evidence", "verify")
    return found or [Item("verify/", "lab", "verify-evidence", missing=f"no verify run recorded ({verify})")]


def _mux_items(base: Path, bpf_summary: Callable[[], object]) -> list[Item]:
    lb = base / "lb"
    if not lb.is_dir():
        return [Item("mux/", "mux", "lb-state", missing="no load balancer in this lab (no lb directory)")]
    found = [Item(f"mux/{p.name}", "mux", "daemon-log" if p.suffix == ".log" else "lb-state", p)
             for p in sorted(lb.iterdir()) if p.is_file() and not p.name.endswith(SKIP_SUFFIXES)]
    return [*found, Item("mux/bpf-maps.json", "mux", "bpf-maps", produce=bpf_summary)]


def _vm_items(inv: Inventory, base: Path) -> list[Item]:
    found = []
    for vm in inv.vms:
        vm_dir = base / "compute" / vm.name
        found += [Item(f"vms/{vm.name}/serial.log", "vm", "serial-console", vm_dir / "serial.log"),
                  Item(f"vms/{vm.name}/provision.json", "vm", "provisioning", vm_dir / "provision.json"),
                  Item(f"vms/{vm.name}/qemu.log", "vm", "daemon-log", QEMU_LOG_DIR / f"{vm.domain}.log")]
    return found


def _daemon_items(inv: Inventory) -> list[Item]:
    found = []
    if inv.vms:
        found.append(Item("daemons/libvirtd.log", "compute", "daemon-log", LIBVIRT_LOG,
                          only_lines_with=tuple(f"'{vm.domain}'" for vm in inv.vms)
                          + tuple(vm.domain + " " for vm in inv.vms)))
    found += frr_items(inv)
    found += vpn_items(inv)
    return found


def vpn_items(inv: Inventory) -> list[Item]:
    """Each VPN end's daemon log (`<lab_dir>/vpn/<host>/`, lab.vpn.state: a
    sibling layer, not imported), the pair monitor's log and its record of the
    serving instance. Named one by one: the rendered configs beside them hold
    the pre-shared key and private keys."""
    root = lab_dir(inv.lab) / "vpn"
    if not root.is_dir():
        return []
    role = {h.name: h.role for h in inv.hosts}
    found = [Item(f"daemons/vpn/{d.name}/{log}", role.get(d.name, "gateway"), "daemon-log", d / log)
             for d in sorted(root.iterdir()) if d.is_dir() and d.name != "serving"
             for log in VPN_LOGS if (d / log).is_file()]
    found += [Item("daemons/vpn/monitor.log", "gateway", "daemon-log", root / "monitor.log")] \
        if (root / "monitor.log").is_file() else []
    found += [Item(f"daemons/vpn/serving/{p.name}", "gateway", "vpn-state", p)
              for p in sorted((root / "serving").glob("*.json"))]
    return found


def frr_items(inv: Inventory) -> list[Item]:
    """FRR of the ToR and each MUX writes `<lab_dir>/frr/<host>/frr.log` (lab.lb.frr)."""
    root = lab_dir(inv.lab) / "frr"  # lab.lb.frr.frr_root (a sibling layer: not imported)
    role = {h.name: h.role for h in inv.hosts}
    found = [item for d in sorted(root.iterdir()) if d.is_dir()
             for item in _files(d, role.get(d.name, "unknown"), "daemon-log", f"daemons/frr/{d.name}")
             ] if root.is_dir() else []
    if found:
        return found
    why = {"static": "no FRR in this lab: the ToR routes statically (no BGP planned)",
           "bgp": f"BGP is planned but {root} holds no FRR files: its daemons never started"}
    return [Item("daemons/frr/", "tor", "daemon-log", missing=why.get(inv.routing, f"no FRR directory {root}"))]


def _ops_items(base: Path) -> list[Item]:
    """The lifecycle host's own daemons (the BMC emulator's log)."""
    return _files(base / "bmc", "compute", "daemon-log", "bmc")
