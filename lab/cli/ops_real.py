"""`lab logs collect TOPOLOGY -i INVENTORY`: the same collection from real
servers, through the Ansible role `log_collect` (playbooks/collect-logs.yml)
and lab.ops.staged, into the same archive layout and manifest. Preflight
first (inventory, vault, reachability): bad input exits 2 with nothing run."""

from __future__ import annotations

import shutil
from pathlib import Path

import typer

from lab.cli.common import console, emit, out
from lab.ops.window import Window
from lab.paths import lab_dir

PLAYBOOK = "collect-logs.yml"


def collect_real(topo, inventory: Path, vault: Path | None, roles: set[str], window: Window, output: Path,
                 fmt: str) -> None:
    from lab.ops.logs import collect
    from lab.ops.sources import Host, Inventory, Item
    from lab.ops.staged import host_items
    from lab.plan.planner import build_plan
    from lab.providers.ansible.driver import ProvisionError, preflight, run_playbook

    plan = build_plan(topo)
    state = lab_dir(topo.name) / "ansible"
    try:
        inventories = preflight(plan, inventory, state, vault)
    except ProvisionError as exc:
        console.print(f"[bold red]{len(exc.problems)} problem(s); nothing was collected:[/]")
        for problem in exc.problems:
            console.print(f"  {problem}", markup=False, soft_wrap=True)
        raise typer.Exit(2) from None
    hosts = [Host(plan.tor.name, "tor", ""), *(Host(s.name, s.role, "") for s in plan.servers())]
    wanted = [h for h in hosts if h.role in roles]
    staging = state / "logs-staging"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        failures: dict[str, str] = {}
        if wanted:
            result = run_playbook(PLAYBOOK, inventories, state, vault, limit=",".join(h.name for h in wanted),
                                  extravars={"log_collect_staging": str(staging)},
                                  console=None if fmt == "json" else out)
            failures = {name: "; ".join(f"{f.task}: {f.message}" for f in r.failures) or r.status
                        for name, r in result.hosts.items() if r.status != "ok"}
        found = [Item("lab/plan.json", "lab", "plan", produce=lambda: plan.model_dump(mode="json"))]
        found += [item for h in wanted for item in host_items(staging, h, failures.get(h.name, ""))]
        inv = Inventory(topo.name, f"ansible inventory {inventory}", hosts, [],
                        "bgp" if plan.bgp is not None else "static")
        done = collect(inv, roles, window, output, _no_local, _no_local, found=found)
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # raw copies: only the redacted archive stays
    if fmt == "json":
        emit({"archive": str(done.path), "manifest": done.manifest}, "json")
        return
    m = done.manifest
    out.print(f"lab {topo.name} (real hosts): {len(m['taken'])} items taken, {len(m['missing'])} missing, "
              f"{m['redactions']} redactions -> {done.path}")
    for entry in m["missing"]:
        out.print(f"  [yellow]missing[/] {entry['name']}: {entry['missing']}", highlight=False)


def _no_local(*_: object) -> object:
    raise RuntimeError("real hosts: nothing is read from this machine")
