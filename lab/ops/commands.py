"""`lab logs collect`, `lab secrets status|rotate`, `lab bmc ...`: the
lifecycle host's verbs, thin over lab.ops. Exit codes: 2 bad input, 4 the
lab (or the server) is not there, 1 the operation failed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lab.cli import check_format, emit, fail, load_or_exit, out
from lab.paths import lab_dir

NOT_THERE = 4
Format = Annotated[str, typer.Option("--format", help="table or json")]
LabOpt = Annotated[str | None, typer.Option("--lab", help="Lab name (instead of a topology file)")]
TopoArg = Annotated[Path | None, typer.Argument(help="Topology file (or use --lab)")]


def _group(app: typer.Typer, name: str, help_text: str) -> typer.Typer:
    """The app's group `name` (another feature may have made it), else a new one."""
    for info in app.registered_groups:
        if info.name == name and info.typer_instance is not None:
            return info.typer_instance
    group = typer.Typer(help=help_text, no_args_is_help=True)
    app.add_typer(group, name=name)
    return group


def register(app: typer.Typer, bench: typer.Typer) -> None:
    _group(app, "logs", "Logs of lab components.").command("collect")(logs_collect)


def _lab(topology: Path | None, lab: str | None):
    """(lab name, topology or None); exit 4 when the lab has no directory."""
    if (topology is None) == (lab is None):
        raise fail("give either a topology file or --lab NAME")
    topo = load_or_exit(topology) if topology is not None else None
    name = topo.name if topo is not None else lab
    if not lab_dir(name).is_dir():
        from lab.providers.state import known_labs

        known = known_labs()
        raise fail(f"lab '{name}' is not there (no {lab_dir(name)}); "
                   + (f"known labs: {', '.join(known)}" if known else "no lab is up"), NOT_THERE)
    return name, topo


def _inventory(name: str, topo):
    from lab.ops.sources import inventory
    from lab.providers.embedded import saved_plan

    plan = saved_plan(name)
    if plan is not None:
        return inventory(name, plan, "saved plan")
    if topo is not None:
        from lab.plan.planner import build_plan

        return inventory(name, build_plan(topo), "topology file (no saved plan: `up` did not finish)")
    return inventory(name, None, "journal")


def _bpf_summary(name: str):
    from lab.lb.status import lb_status

    return lb_status(name)


def logs_collect(
    topology: TopoArg = None, lab: LabOpt = None,
    role: Annotated[list[str] | None, typer.Option(
        "--role", help="compute, mux, tor, gateway, client, vm or all (repeatable; default all)")] = None,
    start: Annotated[str | None, typer.Option("--from", help="Start: ISO 8601, epoch, or -2h/-30m")] = None,
    end: Annotated[str | None, typer.Option("--to", help="End: ISO 8601, epoch, now, or -10m")] = None,
    output: Annotated[Path, typer.Option("-o", "--output", help="Archive to write: FILE.tar.zst")] = Path(
        "lab-logs.tar.zst"),
    fmt: Format = "table",
) -> None:
    """Collect logs, kernel state and verify evidence by role and time window into one archive."""
    from lab.ops.logs import CollectError, check_roles, collect
    from lab.ops.snapshot import namespace_snapshot
    from lab.ops.window import Window, WindowError

    check_format(fmt, ("table", "json"))
    try:
        roles = check_roles(role or [])
        window = Window.parse(start, end)
    except (CollectError, WindowError) as exc:
        raise fail(str(exc)) from None
    if not output.name.endswith(".tar.zst"):
        raise fail(f"-o {output}: the archive is tar + zstd; name it FILE.tar.zst")
    if not output.parent.is_dir():
        raise fail(f"-o {output}: directory {output.parent} does not exist")
    name, topo = _lab(topology, lab)
    done = collect(_inventory(name, topo), roles, window, output, namespace_snapshot,
                   lambda: _bpf_summary(name))
    m = done.manifest
    if fmt == "json":
        emit({"archive": str(done.path), "manifest": m}, "json")
        return
    out.print(f"lab {name}: {len(m['taken'])} items taken, {len(m['missing'])} missing, "
              f"{m['redactions']} redactions -> {done.path}")
    for entry in m["missing"]:
        out.print(f"  [yellow]missing[/] {entry['name']}: {entry['missing']}", highlight=False)
