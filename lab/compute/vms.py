"""The compute library the embedded provider calls: converge VMs to the plan,
remove them without residue, report them.

ensure_vms is idempotent: it creates only missing disks and domains, starts
stopped ones, re-wires taps, applies changed disk caps live, removes VMs the
plan dropped, and runs provisioning scripts that have not yet succeeded.
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
from lab.compute import agent, daemons, disks, domain_xml, libvirt_driver, paths, provision
from lab.compute.daemons import connect
from lab.compute.domain_xml import DiskSpec, DomainSpec, domain_name
from lab.compute.image import GuestImage, build_image, find_image
from lab.compute.operations import add_vips
from lab.plan.model import EndpointPlan, Plan
from lab.plan.naming import mark_for

JournalRecord = Callable[[str, str, str], None]
Progress = Callable[[str], None]
BOOT_TIMEOUT_S = 90.0


def _quiet(_: str) -> None:
    pass


def _done() -> None:
    """Changes returned by ensure_vms are already applied."""


def planned_vms(plan: Plan) -> list[EndpointPlan]:
    return [e for e in plan.endpoints if e.kind == "vm"]


def vm_disks(lab_dir: Path, vm: EndpointPlan) -> list[DiskSpec]:
    specs = [DiskSpec("os", paths.os_disk(lab_dir, vm.name), "vda")]
    specs += [DiskSpec(d.name, Path(lab_dir) / d.path, d.dev, d.iops_cap) for d in vm.data_disks]
    return specs


def ensure_image(progress: Progress = _quiet) -> GuestImage:
    return find_image() or build_image(progress)


def ensure_vms(plan: Plan, lab_dir: Path, journal_record: JournalRecord,
               progress: Progress = _quiet, vips: dict[str, list[str]] | None = None,
               boot_timeout_s: float = BOOT_TIMEOUT_S) -> list[Change]:
    """Converge the lab's VMs to the plan; returns what changed."""
    vms = planned_vms(plan)
    if not vms and not paths.compute_dir(lab_dir).exists():
        return []  # a fabric-only lab needs no libvirt
    conn = connect()
    changes: list[Change] = []
    try:
        changes += _remove_unplanned(conn, plan, lab_dir, progress)
        if not vms:
            return changes
        image = ensure_image(progress)
        dtype = libvirt_driver.domain_type(conn, image)
        started: list[EndpointPlan] = []
        to_start: list[tuple[EndpointPlan, libvirt.virDomain]] = []
        for vm in vms:
            changes += _ensure_domain(conn, plan, lab_dir, vm, image, dtype, journal_record,
                                      (vips or {}).get(vm.name, []), started, to_start)
        _start_all(to_start)
        if to_start:
            progress(f"VMs: {len(to_start)} started ({dtype}), plugging taps into bridges")
        for vm in vms:
            if libvirt_driver.plumb_tap(vm) and vm not in started:
                changes.append(Change(vm.server, "update", "vm-nic", f"{vm.name} {vm.port}", _done))
        if started:
            progress(f"VMs: waiting for {len(started)} agent(s) ({dtype})")
        _wait_agents(lab_dir, started, boot_timeout_s)
        changes += _provision_all(lab_dir, vms, progress)
        changes += _ensure_vips(plan, lab_dir, vips or {})
    finally:
        conn.close()
    return changes


def _ensure_domain(conn: libvirt.virConnect, plan: Plan, lab_dir: Path, vm: EndpointPlan,
                   image: GuestImage, dtype: str, journal_record: JournalRecord,
                   vips: list[str], started: list[EndpointPlan],
                   to_start: list[tuple[EndpointPlan, libvirt.virDomain]]) -> list[Change]:
    name = domain_name(plan.lab, vm.name)
    dom = libvirt_driver.lookup(conn, name)
    if dom is not None and dom.isActive():
        return _converge_caps(dom, lab_dir, vm)
    changes = _ensure_disks(lab_dir, vm, image, journal_record)
    specs = vm_disks(lab_dir, vm)
    if dom is None:
        journal_record("domain", name, f"libvirt {dtype} domain of VM {vm.name}")
        spec = DomainSpec(plan.lab, plan.mark, vm, dtype, image.kernel, image.initrd,
                          paths.serial_log(lab_dir, vm.name),
                          paths.agent_socket(lab_dir, vm.name), specs, vips)
        dom = conn.defineXML(domain_xml.domain_xml(spec))
        changes.append(Change(vm.server, "create", "vm", f"{name} ({dtype})", _done))
    running = lambda d: libvirt_driver.is_running(conn, d)  # noqa: E731
    for disk in specs:
        disks.acquire_lease(lab_dir, disk.path, vm.name, name, running)
    paths.agent_socket(lab_dir, vm.name).unlink(missing_ok=True)
    changes.append(Change(vm.server, "update", "vm", f"{name} started", _done))
    started.append(vm)
    to_start.append((vm, dom))
    return changes


def _start_all(to_start: list[tuple[EndpointPlan, libvirt.virDomain]]) -> None:
    """Start domains in parallel: each start waits on QEMU's launch, not on CPU."""
    def start(item: tuple[EndpointPlan, libvirt.virDomain]) -> None:
        vm, dom = item
        try:
            dom.create()
        except libvirt.libvirtError as exc:
            raise libvirt_driver.ComputeError(
                f"VM {vm.name}: cannot start domain {dom.name()}: {exc}") from exc

    if to_start:
        with ThreadPoolExecutor(max_workers=min(8, len(to_start))) as pool:
            list(pool.map(start, to_start))


def _ensure_disks(lab_dir: Path, vm: EndpointPlan, image: GuestImage,
                  journal_record: JournalRecord) -> list[Change]:
    changes = []
    os_disk = paths.os_disk(lab_dir, vm.name)
    if not os_disk.exists():
        journal_record("disk", str(os_disk), f"OS disk of VM {vm.name}")
        disks.create_qcow2(os_disk, backing=image.os_disk)
        changes.append(Change(vm.server, "create", "disk", f"{vm.name}/os", _done))
    for d in vm.data_disks:
        path = paths.data_disk(lab_dir, vm.name, d.name)
        if not path.exists():
            journal_record("disk", str(path), f"data disk {d.name} of VM {vm.name}")
            disks.create_qcow2(path, size_gb=d.size_gb)
            cap = f"{d.iops_cap} IOPS" if d.iops_cap else "uncapped"
            changes.append(Change(vm.server, "create", "disk",
                                  f"{vm.name}/{d.name} {d.size_gb} GB {d.tier} {cap}", _done))
    return changes


def _converge_caps(dom: libvirt.virDomain, lab_dir: Path, vm: EndpointPlan) -> list[Change]:
    """A running VM whose planned disk caps changed gets them live."""
    changes = []
    for disk in vm_disks(lab_dir, vm)[1:]:
        if libvirt_driver.live_iops_cap(dom, disk.dev) != disk.iops_cap:
            libvirt_driver.set_iops_cap(dom, disk.dev, disk.iops_cap)
            changes.append(Change(vm.server, "update", "disk",
                                  f"{vm.name}/{disk.name} cap {disk.iops_cap or 'none'}", _done))
    return changes


def _wait_agents(lab_dir: Path, vms: list[EndpointPlan], timeout_s: float) -> None:
    def wait(vm: EndpointPlan) -> None:
        try:
            agent.wait_ready(paths.agent_socket(lab_dir, vm.name), timeout_s)
        except agent.AgentError as exc:
            log = paths.serial_log(lab_dir, vm.name)
            raise libvirt_driver.ComputeError(
                f"VM {vm.name} did not boot to its agent: {exc}; boot log: {log}") from exc

    if vms:
        with ThreadPoolExecutor(max_workers=min(8, len(vms))) as pool:
            list(pool.map(wait, vms))


def _provision_all(lab_dir: Path, vms: list[EndpointPlan], progress: Progress) -> list[Change]:
    todo = [vm for vm in vms if provision.needs_run(lab_dir, vm.name, vm.provision_script)]
    for vm in vms:
        if not vm.provision_script and provision.read_state(lab_dir, vm.name)["state"] == "unknown":
            provision.provision(lab_dir, vm.name, None)
    if not todo:
        return []
    progress(f"VMs: provisioning {len(todo)}")
    with ThreadPoolExecutor(max_workers=min(8, len(todo))) as pool:
        states = list(pool.map(lambda v: provision.provision(lab_dir, v.name, v.provision_script),
                               todo))
    return [Change(vm.server, "update", "provision",
                   f"{vm.name} {st['state']}" + (f" (exit {st['exit_code']})"
                                                 if st["state"] == "failed" else ""), _done)
            for vm, st in zip(todo, states, strict=True)]


def lb_vips(plan: Plan) -> dict[str, list[str]]:
    """VM backends of the plan's load balancers -> the VIPs they must hold on
    lo (DSR: the backend answers from the VIP itself)."""
    vm_names = {vm.name for vm in planned_vms(plan)}
    vips: dict[str, list[str]] = {}
    for lb in plan.load_balancers:
        for backend in lb.backends:
            if backend in vm_names:
                for frontend in lb.frontends:
                    held = vips.setdefault(backend, [])
                    if str(frontend.vip) not in held:
                        held.append(str(frontend.vip))
    return vips


def _ensure_vips(plan: Plan, lab_dir: Path, vips: dict[str, list[str]]) -> list[Change]:
    """VIPs on the guests' lo, through the agent (also for VMs booted before
    the load balancer existed); reports only the VIPs it added."""
    changes = []
    for vm in planned_vms(plan):
        if vips.get(vm.name):
            output = add_vips(plan.lab, lab_dir, vm.name, vips[vm.name]).output
            changes += [Change(vm.server, "create", "vip", f"{vm.name} lo {line.split()[1]}", _done)
                        for line in output.splitlines() if line.startswith("added ")]
    return changes


def _remove_unplanned(conn: libvirt.virConnect, plan: Plan, lab_dir: Path,
                      progress: Progress) -> list[Change]:
    wanted = {vm.name for vm in planned_vms(plan)}
    changes = []
    for dom, meta in libvirt_driver.lab_domains(conn, plan.mark):
        if meta.get("vm") not in wanted:
            progress(f"VMs: removing {dom.name()} (no longer planned)")
            libvirt_driver.remove_domain(dom)
            shutil.rmtree(paths.vm_dir(lab_dir, meta["vm"]), ignore_errors=True)
            disks.release_leases_of(lab_dir, meta["vm"])
            changes.append(Change(meta.get("server", "?"), "delete", "vm", dom.name(), _done))
    return changes


def planned_changes(plan: Plan, lab_dir: Path) -> list[Change]:
    """What ensure_vms would do (dry run): no image build, no disk, no domain."""
    vms = planned_vms(plan)
    if not vms and not paths.compute_dir(lab_dir).exists():
        return []
    conn = connect()
    try:
        existing = {meta["vm"]: dom for dom, meta in libvirt_driver.lab_domains(conn, plan.mark)}
        changes = [Change(meta.get("server", "?"), "delete", "vm", dom.name(), _done)
                   for dom, meta in libvirt_driver.lab_domains(conn, plan.mark)
                   if meta["vm"] not in {v.name for v in vms}]
        for vm in vms:
            dom = existing.get(vm.name)
            if dom is None:
                changes.append(Change(vm.server, "create", "vm", domain_name(plan.lab, vm.name),
                                      _done))
            elif not dom.isActive():
                changes.append(Change(vm.server, "update", "vm", f"{dom.name()} start", _done))
        return changes
    finally:
        conn.close()


def remove_vms(lab: str, lab_dir: Path, progress: Progress = _quiet) -> list[str]:
    """Destroy and undefine every domain marked for this lab (whatever its
    name), then delete disks, logs, sockets and leases. Safe after a crash."""
    removed: list[str] = []
    if not paths.compute_dir(lab_dir).exists() and not daemons.libvirt_answers():
        return removed  # nothing was ever created: disks come before domains
    conn = connect()
    try:
        for dom, _meta in libvirt_driver.lab_domains(conn, mark_for(lab)):
            progress(f"VMs: removing {dom.name()}")
            libvirt_driver.remove_domain(dom)
            removed.append(f"domain {dom.name()}")
    finally:
        conn.close()
    cdir = paths.compute_dir(lab_dir)
    if cdir.exists():
        removed += [f"disk {p}" for p in sorted(cdir.rglob("*.qcow2*"))]
        shutil.rmtree(cdir)
    return removed
