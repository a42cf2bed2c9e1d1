"""`lab logs collect`, `lab secrets status|rotate`, `lab bmc ...`: the
lifecycle host's verbs, thin over lab.ops. Exit codes: 2 bad input (an
unknown server or VM included), 4 the lab is not there or its BMC does not
answer (the rig could not act; nothing changed), 1 the operation failed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lab.cli import complete
from lab.cli.common import Format, emit, fail, load_or_exit, out
from lab.cli.labs import LabOption as LabOpt
from lab.cli.labs import TopologyArgument as TopoArg
from lab.cli.labs import TopologyOption as TopoOpt
from lab.cli.labs import named_lab

NOT_THERE = 4


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
    sec = _group(app, "secrets", "The lab's own secrets: age and rotation.")
    sec.command("status")(secrets_status)
    sec.command("rotate")(secrets_rotate)
    hlh = _group(app, "bmc", "The lab's Redfish BMCs, one per server on the lifecycle host: power and boot device.")
    hlh.command("status")(bmc_status)
    hlh.command("power")(bmc_power)
    hlh.command("boot-device")(bmc_boot_device)


def _lab(topology: Path | None, lab: str | None, option: Path | None = None):
    """(lab name, topology or None); exit 4 when the lab is not here, named
    by --lab or by its file (these verbs read what the running lab holds)."""
    from lab.cli.labs import require_known

    named = named_lab(topology, lab, option)
    return require_known(named.name), named.topology


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


def _bmc_inventory(name: str, server: str):
    """What the server's BMC reports now (or why it did not answer)."""
    from lab.ops.redfish import survey

    return survey(name, [server])[0]


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
    fmt: Format = "table", topology_option: TopoOpt = None,
    inventory: Annotated[Path | None, typer.Option(
        "--inventory", "-i", help="Real servers: their Ansible inventory (with the topology file)")] = None,
    vault_password_file: Annotated[Path | None, typer.Option(
        help="ansible-vault password file (or $STACKLAB_VAULT_PASSWORD_FILE)")] = None,
) -> None:
    """Collect logs, kernel state and verify evidence by role and time window into one archive."""
    from lab.ops.logs import CollectError, check_roles, collect
    from lab.ops.snapshot import namespace_snapshot
    from lab.ops.window import Window, WindowError

    try:
        roles = check_roles(role or [])
        window = Window.parse(start, end)
    except (CollectError, WindowError) as exc:
        raise fail(str(exc)) from None
    if not output.name.endswith(".tar.zst"):
        raise fail(f"-o {output}: the archive is tar + zstd; name it FILE.tar.zst")
    if not output.parent.is_dir():
        raise fail(f"-o {output}: directory {output.parent} does not exist")
    if inventory is not None:
        file = topology or topology_option
        if file is None or lab is not None:
            raise fail("-i INVENTORY needs the topology file (it names the hosts and their roles), not --lab")
        from lab.cli.ops_real import collect_real

        collect_real(load_or_exit(file), inventory, vault_password_file, roles, window, output, fmt)
        return
    name, topo = _lab(topology, lab, topology_option)
    done = collect(_inventory(name, topo), roles, window, output, namespace_snapshot,
                   lambda: _bpf_summary(name), lambda server: _bmc_inventory(name, server))
    m = done.manifest
    if fmt == "json":
        emit({"archive": str(done.path), "manifest": m}, "json")
        return
    out.print(f"lab {name}: {len(m['taken'])} items taken, {len(m['missing'])} missing, "
              f"{m['redactions']} redactions -> {done.path}")
    for entry in m["missing"]:
        out.print(f"  [yellow]missing[/] {entry['name']}: {entry['missing']}", highlight=False)


# ---- secrets ---------------------------------------------------------------
def _stamp(t: float) -> str:
    import time

    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))


def secrets_status(topology: TopoArg = None, lab: LabOpt = None, fmt: Format = "table",
                   topology_option: TopoOpt = None) -> None:
    """The lab's secrets: age, maximum age and next rotation (never their values)."""
    from rich.table import Table

    from lab.ops import secrets

    name, _ = _lab(topology, lab, topology_option)
    rows = secrets.status(name)
    if fmt == "json":
        emit({"lab": name, "secrets": rows}, "json")
        return
    table = Table("secret", "created", "age", "max age", "next rotation", "rotations", "state",
                  title=f"lab {name}: secrets")
    for r in rows:
        table.add_row(r["name"], _stamp(r["created_at"]), f"{r['age_h']:.2f} h", f"{r['max_age_h']:g} h",
                      _stamp(r["next_rotation"]), str(r["rotations"]),
                      "[bold red]stale[/]" if r["stale"] else "[green]ok[/]")
    out.print(table)


def secrets_rotate(
    secret: Annotated[str | None, typer.Argument(help="Secret to rotate (see `lab secrets status`)")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Rotate every secret of the lab")] = False,
    topology: Annotated[Path | None, typer.Option("--topology", "-t", help="Topology file")] = None,
    lab: LabOpt = None, fmt: Format = "table",
) -> None:
    """Rotate secrets: new value and creation time. The data path is not touched,
    except that a VPN's running tunnel ends take its new keys at once (no restart)."""
    from lab.ops import secrets

    if (secret is None) == (not all_):
        raise fail("give a secret NAME or --all (not both)")
    name, _ = _lab(topology, lab)
    try:
        done = secrets.rotate_all_applied(name) if all_ else [secrets.rotate_applied(name, secret)]
    except secrets.UnknownSecret:
        known = [r["name"] for r in secrets.status(name)]
        raise fail(f"lab {name} has no secret {secret!r}; its secrets: {', '.join(known) or 'none'}") from None
    if fmt == "json":
        emit({"lab": name, "rotated": [{"name": s.name, "created_at": s.created_at, "rotations": s.rotations,
                                        "applied": applied} for s, applied in done]}, "json")
        return
    for s, applied in done:
        out.print(f"lab {name}: rotated {s.name} (rotation {s.rotations}, created {_stamp(s.created_at)})")
        for line in applied:
            out.print(f"  {line}", highlight=False)


# ---- BMC -------------------------------------------------------------------
def _redfish_call(fn, *args):
    """Unknown name: 2 (bad input); no BMC answers: 4 (the rig could not act); refused: 1."""
    from lab.ops.redfish import BmcError, BmcUnreachable, UnknownSystem

    try:
        return fn(*args)
    except UnknownSystem as exc:
        raise fail(str(exc).strip("'\""), 2) from None
    except BmcUnreachable as exc:
        raise fail(f"{exc} (nothing was changed)", NOT_THERE) from None
    except BmcError as exc:
        raise fail(str(exc), 1) from None


def _split_target(target: str | None, topology: Path | None) -> tuple[str | None, Path | None]:
    """`lab bmc status` takes a topology file (as it always did) or a server/VM name."""
    if target is None or topology is not None:
        return target, topology
    if target.endswith((".yaml", ".yml")) or Path(target).is_file():
        return None, Path(target)
    return target, None


def bmc_status(target: Annotated[str | None, typer.Argument(
                   help="A server or VM (its BMC only), or a topology file")] = None,
               topology: TopoOpt = None, lab: LabOpt = None, fmt: Format = "table") -> None:
    """Every server's BMC (or one): its endpoint and the power of each system it serves."""
    from lab.ops import bmc, redfish

    name_arg, topology = _split_target(target, topology)
    name, _ = _lab(topology, lab)
    servers = None
    if name_arg is not None:
        servers = [_redfish_call(redfish.resolve, name, name_arg).bmc.server]
    rows = _redfish_call(redfish.survey, name, servers)
    data = {"lab": name, "bmc": bmc.endpoint_status(name), "bmcs": rows,
            "systems": [s for r in rows for s in r["systems"]],
            "servers": "network namespaces: power modelled by each server's BMC (off: its VMs forced off "
                       "and its links down; on: its plan applied again, its VMs started)"}
    silent = [r for r in rows if not r["answered"]]
    if fmt == "json":
        emit(data, "json")
    else:
        _bmc_table(data)
    if silent:
        code = NOT_THERE if all(r.get("unreachable") for r in silent) else 1
        raise fail("; ".join(r["error"] for r in silent), code)


def _bmc_table(data: dict) -> None:
    from rich.table import Table

    out.print(f"lab {data['lab']}: lifecycle host {data['bmc']['namespace']} "
              f"(servers are namespaces: power modelled)")
    table = Table("server", "BMC", "system", "kind", "power", "boot", title="Redfish BMCs and their systems")
    for r in data["bmcs"]:
        if not r["answered"]:
            table.add_row(r["server"], r["url"], "[bold red]no answer[/]", "", "", "")
        for s in r["systems"]:
            table.add_row(r["server"], r["url"], s["name"], s["kind"], s["power"] or "-", s["boot"] or "-")
    out.print(table)


PowerAction = Annotated[str, typer.Argument(help="on, off or cycle")]
SystemArg = Annotated[str, typer.Argument(help="A server (its own power, through its BMC) or a VM",
                                           autocompletion=complete.vm_names)]


def _bmc_act(what: str, value: str, allowed: dict, system: str, topology: Path | None, lab: str | None,
             fmt: str, call, key: str) -> None:
    """Validate, run one Redfish action, print `key` of the result."""
    if value not in allowed:
        raise fail(f"{what} {value!r}: use one of: {', '.join(allowed)}")
    name, _ = _lab(topology, lab)
    result = _redfish_call(call, name, system, value)
    if fmt == "json":
        emit({"lab": name, "system": system, "action": f"{what} {value}", **result}, "json")
    else:
        out.print(f"{system} ({result['kind']} behind the BMC of {result['server']}): {what} {value} "
                  f"-> {result[key]}")


def bmc_power(action: PowerAction, system: SystemArg, topology: TopoOpt = None, lab: LabOpt = None,
              fmt: Format = "table") -> None:
    """Power a server or a VM on, off (forced) or cycle it, through its server's BMC."""
    from lab.ops import redfish

    _bmc_act("power", action, redfish.POWER_ACTIONS, system, topology, lab, fmt, redfish.power, "power")


def bmc_boot_device(device: Annotated[str, typer.Argument(help="disk, pxe or cd")],
                    system: Annotated[str, typer.Argument(help="A VM (a namespace server has no firmware)")],
                    topology: TopoOpt = None, lab: LabOpt = None, fmt: Format = "table") -> None:
    """Set the boot device a VM starts from (Redfish boot override on its server's BMC)."""
    from lab.ops import redfish

    if device in redfish.BOOT_DEVICES:
        name, _ = _lab(topology, lab)
        if _redfish_call(redfish.resolve, name, system).kind == "server":
            raise fail(f"boot-device {device} {system}: {system} is a server, a network namespace with no "
                       f"firmware to boot; give one of its VMs")
    _bmc_act("boot device", device, redfish.BOOT_DEVICES, system, topology, lab, fmt, redfish.boot_device,
             "boot")
