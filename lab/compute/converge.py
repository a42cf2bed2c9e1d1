"""Diff, then apply: what the lab's VMs need to match the plan.

`diff_vms` looks (read-only) at libvirt, the disk files, the taps, the
provisioning state and the guests' loopbacks, and returns one Change per
difference, in the order `ensure_vms` applies them: VMs the plan dropped go,
the guest image is built, missing disks and domains are created, stopped VMs
start (then their agents are awaited), running ones get changed caps live and
their tap re-plugged, VIPs go on the guests' lo, and provisioning scripts that
have not yet succeeded run. So `lab up --dry-run` lists exactly what `up` does.

Every disk and domain is announced through `journal_record` BEFORE it exists,
and domains carry the lab's mark, so remove_vms works after a crash mid-up.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import libvirt

from lab.apply.changes import Change
from lab.compute import agent, disks, domain_xml, host_load, libvirt_driver, mirror_converge, paths, provision
from lab.compute.daemons import connect
from lab.compute.domain_xml import DomainSpec, domain_name
from lab.compute.image import GuestImage, build_image, find_image
from lab.compute.operations import add_vips, exec_vm
from lab.plan.model import EndpointPlan, Plan

JournalRecord = Callable[[str, str, str], None]
Progress = Callable[[str], None]
BOOT_TIMEOUT_S = 90.0  # of time the host let the guests run (host_load.BootBudget)
AGENT_SLICE_S = 15.0


def _quiet(_: str) -> None:
    pass


class _Run:
    """What the changes of one convergence share: the libvirt connection, the
    guest image (built on first need) and the domain type it boots with."""

    def __init__(self, plan: Plan, lab_dir: Path, record: JournalRecord, progress: Progress):
        self.plan, self.lab_dir, self.record, self.progress = plan, lab_dir, record, progress
        self.conn = connect()
        self._image: GuestImage | None = None
        self._dtype: str | None = None

    def image(self) -> GuestImage:
        if self._image is None:
            self._image = find_image() or build_image(self.progress)
        return self._image

    def dtype(self) -> str:
        if self._dtype is None:
            self._dtype = libvirt_driver.domain_type(self.conn, self.image())
        return self._dtype


def planned_vms(plan: Plan) -> list[EndpointPlan]:
    return plan.vms()


def vm_disks(lab_dir: Path, vm: EndpointPlan) -> list[domain_xml.DiskSpec]:
    """The OS disk, then the data disks: image files, or a mirrored disk's
    quorum socket (lab.compute.mirror), each with its tier's cap."""
    specs = [domain_xml.DiskSpec("os", paths.os_disk(lab_dir, vm.name), "vda")]
    specs += [domain_xml.DiskSpec(d.name, paths.quorum_socket(lab_dir, d.quorum_socket), d.dev, d.iops_cap,
                                  export=d.name) if d.resiliency == "mirror3"
              else domain_xml.DiskSpec(d.name, Path(lab_dir) / d.path, d.dev, d.iops_cap) for d in vm.data_disks]
    return specs


def ensure_vms(plan: Plan, lab_dir: Path, journal_record: JournalRecord,
               progress: Progress = _quiet, vips: dict[str, list[str]] | None = None,
               boot_timeout_s: float = BOOT_TIMEOUT_S) -> list[Change]:
    """Converge the lab's VMs to the plan; returns what changed (idempotent)."""
    changes, run = _diff(plan, lab_dir, journal_record, progress, vips or {}, boot_timeout_s)
    try:
        for change in changes:
            change.apply()
        for vm in planned_vms(plan):  # no script: provisioned by definition (status shows it)
            if not vm.provision_script and provision.read_state(lab_dir, vm.name)["state"] == "unknown":
                provision.provision(lab_dir, vm.name, None)
    finally:
        if run is not None:
            run.conn.close()
    return changes


def diff_vms(plan: Plan, lab_dir: Path, vips: dict[str, list[str]] | None = None) -> list[Change]:
    """What ensure_vms would change, without changing anything."""
    changes, run = _diff(plan, lab_dir, lambda *_: None, _quiet, vips or {}, BOOT_TIMEOUT_S)
    if run is not None:
        run.conn.close()
    return changes


def _diff(plan: Plan, lab_dir: Path, record: JournalRecord, progress: Progress,
          vips: dict[str, list[str]], boot_timeout_s: float) -> tuple[list[Change], _Run | None]:
    vms = planned_vms(plan)
    if not vms and not paths.compute_dir(lab_dir).exists():
        return [], None  # a fabric-only lab needs no libvirt
    run = _Run(plan, lab_dir, record, progress)
    existing = {meta["vm"]: dom for dom, meta in libvirt_driver.lab_domains(run.conn, plan.mark)}
    changes = _unplanned(run, existing, {vm.name for vm in vms})
    changes += mirror_converge.diff_storage(plan, lab_dir, record)  # the mirrors before the VMs using them
    if vms and find_image() is None:
        changes.append(Change("host", "create", "image", "guest image (Debian packages)", run.image))
    booting: list[EndpointPlan] = []
    starts: list[Change] = []  # every domain is defined before the first one starts
    for vm in vms:
        dom = existing.get(vm.name)
        if dom is not None and dom.isActive():
            changes += _running(run, vm, dom, vips.get(vm.name, []))
        else:
            prepare, start = _to_boot(run, vm, dom, vips.get(vm.name, []))
            changes += prepare
            starts += start
            booting.append(vm)
    changes += starts
    if booting:
        def boot() -> None:
            progress(f"VMs: {len(booting)} started ({run.dtype()}), plugging taps into bridges")
            for vm in booting:
                try:
                    libvirt_driver.plumb_tap(vm)
                except libvirt_driver.ComputeError as exc:
                    why = libvirt_driver.post_mortem(run.conn, plan.mark, vm.name)
                    raise libvirt_driver.ComputeError(f"{exc}; {why}") from None
            _wait_agents(lab_dir, booting, boot_timeout_s, progress)

        changes.append(Change("host", "update", "vm-boot", ", ".join(vm.name for vm in booting), boot))
    changes += [Change(vm.server, "create", "vip", f"{vm.name} lo {vip}",
                       lambda v=vip, n=vm.name: add_vips(plan.lab, lab_dir, n, [v]) and None)
                for vm in booting if vm.name in existing for vip in vips.get(vm.name, [])]
    changes += [_provision(lab_dir, vm) for vm in vms
                if provision.needs_run(lab_dir, vm.name, vm.provision_script)]
    return changes, run


def _unplanned(run: _Run, existing: dict[str, libvirt.virDomain], wanted: set[str]) -> list[Change]:
    changes = []
    for name, dom in sorted(existing.items()):
        if name in wanted:
            continue

        def remove(d: libvirt.virDomain = dom, vm: str = name) -> None:
            run.progress(f"VMs: removing {d.name()} (no longer planned)")
            libvirt_driver.remove_domain(d)
            shutil.rmtree(paths.vm_dir(run.lab_dir, vm), ignore_errors=True)
            disks.release_leases_of(run.lab_dir, vm)

        changes.append(Change("host", "delete", "vm", dom.name(), remove))
    return changes


def _running(run: _Run, vm: EndpointPlan, dom: libvirt.virDomain, vips: list[str]) -> list[Change]:
    """A running VM: caps changed in the plan go on live, a tap that left its
    bridge is plugged back, VIPs missing from its lo are added."""
    changes = []
    for disk in vm_disks(run.lab_dir, vm)[1:]:
        if libvirt_driver.live_iops_cap(dom, disk.dev) != disk.iops_cap:
            changes.append(Change(vm.server, "update", "disk", f"{vm.name}/{disk.name} cap {disk.iops_cap or 'none'}",
                                  lambda d=disk: libvirt_driver.set_iops_cap(dom, d.dev, d.iops_cap)))
    if not libvirt_driver.tap_in_place(vm):
        changes.append(Change(vm.server, "update", "vm-nic", f"{vm.name} {vm.port}",
                              lambda: libvirt_driver.plumb_tap(vm) and None))
    if vips:
        held = exec_vm(run.plan.lab, run.lab_dir, vm.name, "ip -4 addr show dev lo", timeout_s=30).output
        changes += [Change(vm.server, "create", "vip", f"{vm.name} lo {vip}",
                           lambda v=vip: add_vips(run.plan.lab, run.lab_dir, vm.name, [v]) and None)
                    for vip in vips if f" {vip}/32" not in held]
    return changes


def _to_boot(run: _Run, vm: EndpointPlan, dom: libvirt.virDomain | None,
             vips: list[str]) -> tuple[list[Change], list[Change]]:
    """A VM not running: its missing disks and its domain if undefined (to
    prepare), then its start. A VM defined earlier keeps its boot-time VIPs;
    planned ones it lacks are added through the agent once it runs."""
    changes = _disks(run, vm)
    name = domain_name(run.plan.lab, vm.name)
    if dom is None:
        def define(change: list[Change]) -> None:
            run.record("domain", name, f"libvirt {run.dtype()} domain of VM {vm.name}")
            spec = DomainSpec(run.plan.lab, run.plan.mark, vm, run.dtype(), run.image().kernel,
                              run.image().initrd, paths.serial_log(run.lab_dir, vm.name),
                              paths.agent_socket(run.lab_dir, vm.name), vm_disks(run.lab_dir, vm), vips)
            run.conn.defineXML(domain_xml.domain_xml(spec))
            change[0].outcome = f"({run.dtype()})"

        holder: list[Change] = []
        holder.append(Change(vm.server, "create", "vm", name, lambda: define(holder)))
        changes += holder

    return changes, [Change(vm.server, "update", "vm", f"{name} started",
                            lambda: start_domain(run.conn, run.lab_dir, vm, name))]


def start_domain(conn: libvirt.virConnect, lab_dir: Path, vm: EndpointPlan, name: str) -> None:
    """Start a defined VM's domain: its disks leased to it, a stale agent
    socket removed first (`up`, and a BMC powering the VM on)."""
    domain = libvirt_driver.lookup(conn, name)
    if domain is None:
        raise libvirt_driver.ComputeError(f"VM {vm.name}: domain {name} is not defined")
    running = lambda d: libvirt_driver.is_running(conn, d)  # noqa: E731
    for disk in vm_disks(lab_dir, vm):
        disks.acquire_lease(lab_dir, disk.path, vm.name, name, running)
    paths.agent_socket(lab_dir, vm.name).unlink(missing_ok=True)
    try:
        domain.create()
    except libvirt.libvirtError as exc:
        raise libvirt_driver.ComputeError(f"VM {vm.name}: cannot start domain {name}: {exc}") from exc


def _disks(run: _Run, vm: EndpointPlan) -> list[Change]:
    changes = []
    os_disk = paths.os_disk(run.lab_dir, vm.name)
    if not os_disk.exists():
        def create_os() -> None:
            run.record("disk", str(os_disk), f"OS disk of VM {vm.name}")
            disks.create_qcow2(os_disk, backing=run.image().os_disk)

        changes.append(Change(vm.server, "create", "disk", f"{vm.name}/os", create_os))
    for d in vm.data_disks:
        path = Path(run.lab_dir) / d.path
        if d.resiliency != "simple" or path.exists():
            continue  # a mirrored disk's legs are lab.compute.mirror's

        def create(p: Path = path, size: int = d.size_gb, disk: str = d.name) -> None:
            run.record("disk", str(p), f"data disk {disk} of VM {vm.name}")
            disks.create_qcow2(p, size_gb=size)

        cap = f"{d.iops_cap} IOPS" if d.iops_cap else "uncapped"
        changes.append(Change(vm.server, "create", "disk", f"{vm.name}/{d.name} {d.size_gb} GB {d.tier} {cap}",
                              create))
    return changes


def _wait_agents(lab_dir: Path, vms: list[EndpointPlan], timeout_s: float, progress: Progress) -> None:
    """The started guests boot in parallel (each waits on its own emulated CPU)."""
    progress(f"VMs: waiting for {len(vms)} agent(s)")

    budget = host_load.BootBudget(timeout_s)

    def wait(vm: EndpointPlan) -> None:
        while True:  # slices of the wait, until the load-aware budget is spent
            try:
                agent.wait_ready(paths.agent_socket(lab_dir, vm.name), AGENT_SLICE_S)
                return
            except agent.AgentError as exc:
                if budget.spent() or isinstance(exc, agent.AgentGone):
                    log = paths.serial_log(lab_dir, vm.name)
                    raise libvirt_driver.ComputeError(
                        f"VM {vm.name} did not boot to its agent: {exc}; {budget.describe()}; "
                        f"boot log: {log}") from exc
                progress(f"VMs: {vm.name} still booting ({budget.describe()})")

    with ThreadPoolExecutor(max_workers=min(8, len(vms))) as pool:
        list(pool.map(wait, vms))


def _provision(lab_dir: Path, vm: EndpointPlan) -> Change:
    """Run the script; a failure is the VM's provisioning state (as Azure's
    VMExtensionProvisioningError), not an error of `up`: the outcome says it."""
    def run() -> None:
        state = provision.provision(lab_dir, vm.name, vm.provision_script)
        change.outcome = state["state"] + (f" (exit {state['exit_code']})" if state["state"] == "failed" else "")

    change = Change(vm.server, "update", "provision", vm.name, run)
    return change
