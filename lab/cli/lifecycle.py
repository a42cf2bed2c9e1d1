"""`lab plan / up / down / status`: the lifecycle commands.

`up` and `down` exit 4 (lab.exitcodes: the rig could not act) when another
run holds the lab's lock or a namespace the plan needs belongs to someone
else: the topology is fine, this host is not ready for it now."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from lab.cli import common as cli
from lab.cli.common import Format, console, emit, fail, format_option, lazy, out
from lab.cli.labs import (
    LabOption,
    NamedLab,
    TopologyArgument,
    TopologyOption,
    labs_here,
    named_lab,
    no_such_lab,
)
from lab.cli.progress import steps
from lab.exitcodes import HELP, ExitCode

embedded = lazy("lab.providers.embedded")
planner = lazy("lab.plan.planner")
state = lazy("lab.providers.state")

Provider = Annotated[str, typer.Option(help="embedded (this machine) or ansible (real servers)")]
Inventory = Annotated[Path | None, typer.Option("--inventory", "-i", help="Ansible inventory (provider ansible)")]
VaultFile = Annotated[Path | None, typer.Option(help="ansible-vault password file (or $STACKLAB_VAULT_PASSWORD_FILE)")]


def register(app: typer.Typer, bench: typer.Typer) -> None:
    app.command("plan")(plan)
    app.command("up", epilog=HELP)(up)
    app.command("down", epilog=HELP)(down)
    app.command("status")(status)
    app.command("apply-host")(apply_host)
    bench.command("fabric")(bench_fabric)


def plan(topology: TopologyArgument = None, lab: LabOption = None, topology_option: TopologyOption = None,
         fmt: Annotated[str, format_option("yaml", "json")] = "yaml") -> None:
    """Print the per-host desired state the topology turns into (pure, no
    root); with --lab, the plan the lab was brought up with."""
    named = named_lab(topology, lab, topology_option)
    emit(_plan_of(named).model_dump(mode="json"), fmt)


def _plan_of(named: NamedLab):
    """The plan a verb works on: built from the file, or the one the lab was brought up with."""
    if named.topology is not None:
        return planner.build_plan(named.topology)
    saved = embedded.saved_plan(named.name)
    if saved is None:
        raise fail(f"lab {named.name} has no saved plan (its `up` did not finish): "
                   "give its topology file", ExitCode.CANNOT_MEASURE)
    return saved


def _require_root() -> None:
    cli.require_root("this command changes network namespaces")


def up(topology: TopologyArgument = None,
       dry_run: Annotated[bool, typer.Option("--dry-run", help="Print what would change; change nothing")] = False,
       provider: Provider = "embedded", inventory: Inventory = None, vault_password_file: VaultFile = None,
       fmt: Format = "table", lab: LabOption = None, topology_option: TopologyOption = None) -> None:
    """Bring the lab up, or converge it to the topology (idempotent); with
    --lab, converge a lab back to the plan it was brought up with."""
    named = named_lab(topology, lab, topology_option)
    chosen = _provider(provider, inventory, vault_password_file, named, fmt)
    if not chosen.local:
        _on_hosts(chosen, "up", named, dry_run, fmt)
        return
    _require_root()
    name = named.name
    started = time.monotonic()
    try:
        with steps(console, f"up {name}") as step:
            step("planning")
            report = chosen.up(_plan_of(named), dry_run=dry_run, progress=step)
    except (state.LabBusyError, embedded.OwnershipError) as exc:
        raise fail(str(exc), ExitCode.CANNOT_MEASURE) from None  # the rig cannot act now
    elapsed = time.monotonic() - started
    if fmt == "json":
        emit({"lab": name, "dry_run": dry_run, "changed": bool(report.changes),
              "changes": [c.to_json() for c in report.changes], "seconds": round(elapsed, 3)}, "json")
        return
    _print_changes(name, report, elapsed)


def _print_changes(lab: str, report: embedded.UpReport, elapsed: float) -> None:
    if not report.changes:
        out.print(f"[green]lab {lab} is up to date: nothing to change[/] ({elapsed:.2f} s)")
        return
    verb = "would change" if report.dry_run else "changed"
    if report.dry_run or len(report.changes) <= 40:
        for change in report.changes:
            out.print(f"  {change}", markup=False, highlight=False)
    counts: dict[str, int] = {}
    for change in report.changes:
        counts[change.kind] = counts.get(change.kind, 0) + 1
    summary = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))
    out.print(f"[bold]lab {lab}: {verb} {len(report.changes)} objects[/] ({summary}) in {elapsed:.2f} s")


def down(topology: TopologyArgument = None,
         lab: LabOption = None, provider: Provider = "embedded", inventory: Inventory = None,
         vault_password_file: VaultFile = None, topology_option: TopologyOption = None) -> None:
    """Remove everything the lab created (namespaces, links, VMs, pins, files) and nothing else."""
    # a --lab that is not here may still have marked residue (a crash, another
    # $STACKLAB_HOME): look for it first, and say "no lab" only if there was none
    named = named_lab(topology, lab, topology_option, known=False)
    chosen = _provider(provider, inventory, vault_password_file, named, "table")
    if not chosen.local:
        _on_hosts(chosen, "down", named, False, "table")
        return
    name = named.name
    labs = labs_here()
    _require_root()
    from lab.paths import lock_path

    started_here = lock_path(name).exists()  # an `up` killed before it journaled anything
    try:
        with steps(console, f"down {name}") as step:
            step("tearing down")
            removed = chosen.down(name, progress=lambda phase: step(f"removing {phase}"))
    except state.LabBusyError as exc:
        raise fail(str(exc), ExitCode.CANNOT_MEASURE) from None  # the rig cannot act now
    if not removed and named.file is None and name not in labs and not started_here:
        raise no_such_lab(name, labs)
    out.print(f"lab {name}: removed {len(removed)} objects" if removed else f"lab {name}: nothing to remove")


def status(topology: TopologyArgument = None, lab: LabOption = None, fmt: Format = "table",
           topology_option: TopologyOption = None) -> None:
    """Servers, tenants and endpoints of a lab and their health."""
    name = named_lab(topology, lab, topology_option).name
    from lab.providers.status import lab_status

    data = lab_status(name)
    if fmt == "json":
        emit(data, "json")
        return
    _print_status(data)


def _print_status(data: dict) -> None:
    """Sections of one line per object (lab.lines): reads the same in a
    terminal and in a journal at 80 columns."""
    out.print(f"[bold]lab {data['lab']}[/]: {data['state']}")
    _section("servers and fabric", ("host", "role", "namespace", "underlay", "health"),
             [(h["name"], h["role"], h["namespace"], h.get("underlay_ip") or "-", _health(h["health"]))
              for h in data["servers"] + data["fabric"]])
    _section("tenants", ("tenant", "VNI", "gateway", "subnets"),
             [(t["name"], str(t["vni"]), t["gateway"], Text(", ".join(t["subnets"])))
              for t in data["tenants"]])
    _section("endpoints", ("endpoint", "kind", "tenant", "server", "health", "address"),
             [(e["name"], e["kind"], e["tenant"], e["server"], _health(e["health"]), Text(e["address"]))
              for e in data["endpoints"]])
    if data.get("vms"):
        _print_vms(data["vms"])
    if data.get("storage_daemons"):
        _section("storage daemons (mirrored disks)", ("daemon", "kind", "health", "exports"),
                 [(d["daemon"], d["kind"], _health("ok" if d["running"] else "down"),
                   Text(", ".join(d.get("exports", [])) or "-")) for d in data["storage_daemons"]])
    if data.get("load_balancers"):
        from lab.cli.lb_view import render

        render(data["load_balancers"], out)
    if data.get("bgp"):
        _print_bgp(data["bgp"])
    if data.get("ansible"):
        _print_ansible(data["ansible"])
    if data.get("vpn"):
        _section("vpn gateways", ("vpn", "protocol", "tenant", "serving", "tunnel", "daemons down"),
                 [(name, v["protocol"], v["tenant"], v["serving"], _health("ok" if v["tunnel"] == "up" else "down"),
                   ", ".join(h for h, s in v["daemons"].items() if s != "running") or "-")
                  for name, v in data["vpn"].items()])


def _print_ansible(remote: dict) -> None:
    """The last playbook run from here against the lab's real servers, per host."""
    run = remote.get("last_run")
    if not run:
        out.print(f"real servers (ansible): {remote['state']}, no finished run from here")
        return
    mode = ", check mode" if run["check_mode"] else ""
    out.print(f"real servers (ansible): last run {run['action']} ({run['playbook']}{mode}) ended "
              f"{run['ended']}: {'succeeded' if run['succeeded'] else 'failed'}")
    _section("hosts", ("host", "health", "outcome"),
             [(host, _health("ok" if outcome in ("ok", "changed") else "down"), outcome)
              for host, outcome in run["hosts"].items()])


def _print_bgp(bgp: dict) -> None:
    """Each MUX's session to the ToR (its view and the ToR's) and what it announces."""
    rows = []
    for mux, b in bgp.items():
        tor = b.get("tor", {})
        up = b["session"] == "Established" and b["bfd"] == "up"
        rows.append((mux, b.get("peer", "-"), _health("ok" if up else "down"),
                     f"{b['session']}, BFD {b['bfd']}",
                     f"{tor.get('session', '-')}, {tor.get('accepted', 0)} accepted",
                     Text(", ".join(b["advertised"]) or "none")))
    _section("BGP: MUX sessions to the ToR", ("MUX", "peer", "health", "session", "ToR's view",
                                              "advertised VIPs"), rows)


def _section(title: str, header: tuple[str, ...], rows: list[tuple]) -> None:
    from lab.lines import print_lines

    out.print(Text(title, style="bold"))
    print_lines(out, rows, header=header)


def _print_vms(vms: list[dict]) -> None:
    rows = []
    for vm in vms:
        disks = ", ".join(f"{d.get('name')}:{d.get('iops_cap') or 'uncapped'}" for d in vm.get("disks", []))
        prov = vm.get("provisioning", {})
        state = prov.get("state", "-") + (f" (exit {prov['exit_code']})" if prov.get("exit_code") else "")
        rows.append((vm["name"], vm["domain_type"] or "-", vm.get("size") or "-", f"{vm['memory_mib']} MiB",
                     state, _health(vm["health"]), Text(f"disks {disks or '-'}; domain {vm['domain']}")))
    _section("virtual machines", ("VM", "type", "size", "memory", "provisioning", "health",
                                  "disks (IOPS cap)"), rows)
    if vms:
        out.print(f"[dim]memory: {vms[0]['memory_note']}[/]")


def _health(value: str) -> Text:
    color = {"ok": "green", "down": "red", "missing": "red"}.get(value, "yellow")
    return Text(value, style=color)


def apply_host(
    plan_file: Annotated[Path, typer.Option("--plan", help="JSON: {\"host\": NAME, \"plan\": <lab plan>} or a plan")],
    host: Annotated[str, typer.Option("--host", help="Which host of the plan this machine is")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print what would change; change nothing")] = False,
    remove: Annotated[bool, typer.Option("--down", help="Remove this host's planned state instead")] = False,
    fmt: Format = "table",
) -> None:
    """Apply one host's planned fabric state to this machine (real servers, via Ansible)."""
    from lab.providers.host_apply import PlanInputError, load_plan, remove_host, result_json
    from lab.providers.host_apply import apply_host as apply_one

    try:
        plan = load_plan(plan_file, host)
    except PlanInputError as exc:
        raise fail(str(exc)) from None
    _require_root()
    changes = (remove_host if remove else apply_one)(plan, host, dry_run=dry_run)
    if fmt == "json":
        emit(result_json(host, dry_run, remove, changes), "json")
        return
    for change in changes:
        out.print(f"  {change}", markup=False, highlight=False)
    out.print(f"{host}: {'would change' if dry_run else 'changed'} {len(changes)} objects")


def _provider(provider: str, inventory: Path | None, vault: Path | None, named: NamedLab, fmt: str):
    """The lab.providers.Provider the flags name; an inventory goes with a
    provider of real servers, and only with one."""
    from lab.providers import NAMES, select

    if provider not in NAMES:
        raise fail(f"--provider {provider!r}: use embedded (this machine) or ansible (real servers)")
    chosen = select(provider, named.topology, inventory, vault, console=None if fmt == "json" else out)
    if not chosen.local and inventory is None:
        raise fail(f"--provider {provider} needs -i INVENTORY (the real servers and the ToR)")
    if chosen.local and inventory is not None:
        raise fail("-i INVENTORY is for --provider ansible")
    return chosen


def _on_hosts(chosen, action: str, named: NamedLab, check: bool, fmt: str) -> None:
    """Provision (or clean) real servers with the playbooks; a failed host is
    a result in the table, and makes the exit code 1."""
    from lab.providers.ansible.driver import ProvisionError

    if named.topology is None and (action == "up" or chosen.saved_plan(named.name) is None):
        purpose = "provision" if action == "up" else "clean (the lab was not provisioned from here)"
        raise fail(f"--provider {chosen.name} needs the topology file (it says which hosts to {purpose})")
    try:
        result = (chosen.up(planner.build_plan(named.topology), dry_run=check) if action == "up"
                  else chosen.down(named.name))
    except ProvisionError as exc:
        console.print(f"[bold red]{len(exc.problems)} problem(s); nothing was changed:[/]")
        for problem in exc.problems:
            console.print(f"  {problem}", markup=False, soft_wrap=True)
        raise typer.Exit(2) from None
    if fmt == "json":
        emit(result.to_json(), "json")
    raise typer.Exit(0 if result.succeeded else 1)


def bench_fabric(
    servers: Annotated[int, typer.Option("--servers", min=1, max=250, help="Compute servers to generate")] = 32,
    fmt: Format = "table",
) -> None:
    """Time `up` and `down` of a generated lab with N servers."""
    from lab.providers.bench import measure

    cli.require_root("the fabric benchmark creates namespaces")
    result = measure(servers)
    if fmt == "json":
        emit(result, "json")
    else:
        out.print(f"fabric with {servers} servers: up {result['up_s']:.2f} s, down {result['down_s']:.2f} s")
