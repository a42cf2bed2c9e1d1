"""`lab image build`, `lab vm exec|set-cap`, `lab logs vm`, `lab bench vms`."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated

import typer

from lab.cli import complete
from lab.cli.common import Format, console, emit, fail, lazy, out
from lab.cli.labs import LabOption, TopologyOption, named_lab, require_known

paths = lazy("lab.compute.paths")
VmArgument = Annotated[str, typer.Argument(help="VM name (see lab status)", autocompletion=complete.vm_names)]


def register(app: typer.Typer, bench: typer.Typer) -> None:
    image = typer.Typer(help="Guest image (built from Debian packages, cached).",
                        no_args_is_help=True)
    image.command("build")(image_build)
    app.add_typer(image, name="image")
    vm = typer.Typer(help="Operate on a lab's VMs.", no_args_is_help=True)
    vm.command("exec")(vm_exec)
    vm.command("set-cap")(vm_set_cap)
    app.add_typer(vm, name="vm")
    logs = typer.Typer(help="Logs of lab components.", no_args_is_help=True)
    logs.command("vm")(logs_vm)
    app.add_typer(logs, name="logs")
    bench.command("vms")(bench_vms)


def _lab(lab: str | None, topology: Path | None) -> str:
    """The lab's name; exit 4 unless this host holds it (its VMs are read from its directory)."""
    return require_known(named_lab(lab=lab, option=topology).name)


def image_build(force: Annotated[bool, typer.Option("--force", help="Rebuild even if cached")] = False,
                fmt: Format = "table") -> None:
    """Build the guest image (kernel, initramfs, OS disk with fio and the agent)."""
    from lab.compute.image import ImageError, build_image

    try:
        with console.status("guest image") as spinner:
            img = build_image(lambda step: spinner.update(f"guest image: {step}"), force=force)
    except ImageError as exc:
        raise fail(str(exc), 1) from None
    manifest = img.manifest()
    if fmt == "json":
        emit({"directory": str(img.directory), "built": img.built_now, **manifest}, "json")
        return
    verb = "built" if img.built_now else "cached"
    out.print(f"[green]guest image {verb}[/]: {img.directory}")
    out.print(f"  kernel {manifest['kernel_package']}, {', '.join(manifest['packages'])}")
    out.print(f"  OS disk files {manifest['os_files_mib']} MiB, modules {len(manifest['modules'])}")


def vm_exec(vm: VmArgument,
            command: Annotated[list[str], typer.Argument(help="Command (after --)")],
            lab: LabOption = None, topology: TopologyOption = None,
            timeout: Annotated[float, typer.Option(help="Seconds before the guest kills it")] = 120.0,
            ) -> None:
    """Run a command in a VM through its agent (no guest network needed); exits with its code."""
    from lab.compute.agent import AgentError
    from lab.compute.operations import VmNotFound, exec_vm

    name = _lab(lab, topology)
    text = command[0] if len(command) == 1 else shlex.join(command)
    try:
        result = exec_vm(name, paths.default_lab_dir(name), vm, text, timeout)
    except VmNotFound as exc:
        raise fail(str(exc)) from None
    except AgentError as exc:
        raise fail(str(exc), 1) from None
    print(result.output, end="")
    raise typer.Exit(result.exit_code)


def vm_set_cap(vm: VmArgument,
               disk: Annotated[str, typer.Argument(help="Data disk name")],
               iops: Annotated[int | None, typer.Option(help="New cap; omit with --none")] = None,
               none: Annotated[bool, typer.Option("--none", help="Remove the cap")] = False,
               lab: LabOption = None, topology: TopologyOption = None) -> None:
    """Change a data disk's IOPS cap live (libvirt blkdeviotune)."""
    from lab.compute.operations import VmNotFound, set_disk_cap

    if (iops is None) == (not none) or (iops is not None and iops <= 0):
        raise fail("give --iops N (N > 0) or --none")
    name = _lab(lab, topology)
    try:
        dev = set_disk_cap(name, vm, disk, iops)
    except VmNotFound as exc:
        raise fail(str(exc)) from None
    out.print(f"{vm}/{disk} ({dev}): cap {iops or 'removed'} (live)")


def logs_vm(vm: VmArgument,
            lab: LabOption = None, topology: TopologyOption = None,
            tail: Annotated[int, typer.Option(help="Last N lines (0 = all)")] = 0) -> None:
    """Boot diagnostics: the VM's serial console log."""
    name = _lab(lab, topology)
    log = paths.serial_log(paths.default_lab_dir(name), vm)
    if not log.exists():
        raise fail(f"no serial log for VM '{vm}' in lab '{name}' ({log}); see `lab status`")
    lines = log.read_text(errors="replace").splitlines()
    print("\n".join(lines[-tail:] if tail else lines))


def bench_vms(count: Annotated[int, typer.Option(help="VMs to boot (1-16)")] = 2,
              fmt: Format = "table") -> None:
    """Time N VMs from nothing to an answering agent, and RSS per VM."""
    from lab.compute.bench import MAX_COUNT
    from lab.compute.bench import bench_vms as run

    if not 1 <= count <= MAX_COUNT:
        raise fail(f"--count must be 1..{MAX_COUNT}")
    with console.status(f"booting {count} VM(s)"):
        result = run(count)
    if fmt == "json":
        emit({k: result[k] for k in ("count", "up_s", "rss_mib_per_vm")}, "json")
        return
    out.print(f"{result['count']} VM(s) ({result['domain_type']}) up to an answering agent in "
              f"{result['up_s']} s; RSS {result['rss_mib_per_vm']} MiB per VM")
