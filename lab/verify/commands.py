"""`lab verify`, `lab regress`, `lab fault inject/clear`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from lab.cli import Format, TopologyFile, check_format, console, emit, fail, load_or_exit, out
from lab.plan.planner import build_plan
from lab.providers import embedded
from lab.report.history import History, results_dir
from lab.report.regress import regress_against_baseline, render_regressions, specs_from_topology
from lab.report.runs import record_run
from lab.verify.catalog import checks_for
from lab.verify.faults import all_faults, clear_features
from lab.verify.runner import VerifyRun, render_summary, run_checks, run_config, topology_hash

GROUPS = ("fabric", "storage", "lb", "rdma", "baseline", "hlh")
Only = Annotated[list[str] | None, typer.Option("--only", help=f"Run one group only: {', '.join(GROUPS)}")]
fault_app = typer.Typer(help="Inject faults to prove the rig catches them; clear them again.",
                        no_args_is_help=True)


def register(app: typer.Typer, bench: typer.Typer) -> None:
    app.command("verify")(verify)
    app.command("regress")(regress)
    app.add_typer(fault_app, name="fault")


def _running_plan(topology: Path):
    topo = load_or_exit(topology)
    if os.geteuid() != 0:
        raise fail("verification runs probes inside the lab's namespaces and needs root", 1)
    plan = embedded.saved_plan(topo.name)
    if plan is None:
        raise fail(f"lab {topo.name} is not up: run `lab up {topology}` first", 1)
    if plan != build_plan(topo):
        console.print(f"[yellow]warning:[/] {topology} changed since `lab up`; run `lab up` to converge")
    return topo, plan


def _run_verify(topology: Path, only: list[str] | None) -> tuple[object, VerifyRun]:
    for group in only or ():
        if group not in GROUPS:
            raise fail(f"--only {group!r}: unknown group; use one of: {', '.join(GROUPS)}")
    topo, plan = _running_plan(topology)
    run = run_checks(checks_for(plan), topo.name, topology_hash(topo), run_config(),
                     only=only, console=console)
    return topo, record_run(run, results_dir(topo.name))


def verify(topology: TopologyFile, only: Only = None, fmt: Format = "table") -> None:
    """Check the running lab against its topology's specs (exit 0 only if all pass)."""
    check_format(fmt, ("table", "json"))
    _, run = _run_verify(topology, only)
    if fmt == "json":
        emit(run.to_json(), "json")
    else:
        render_summary(run, out)
    raise typer.Exit(0 if run.passed else 1)


def regress(topology: TopologyFile, only: Only = None,
            baseline: Annotated[int | None, typer.Option(
                help="Baseline run id (default: pinned, else last good)")] = None,
            fmt: Format = "table") -> None:
    """Verify, then compare every metric with the baseline run; exit 1 on a regression."""
    check_format(fmt, ("table", "json"))
    topo, run = _run_verify(topology, only)
    with History.for_lab(results_dir(topo.name)) as history:
        report = regress_against_baseline(history, run.run_id, specs=specs_from_topology(topo),
                                          baseline_run_id=baseline)
    if fmt == "json":
        emit({"verify": run.to_json(), "regress": report.to_json()}, "json")
    else:
        render_summary(run, out)
        render_regressions(report, out)
    raise typer.Exit(0 if report.passed and run.passed else 1)


@fault_app.command("inject")
def fault_inject(kind: Annotated[str, typer.Argument(help="Fault kind (see `lab fault list`)")],
                 topology: TopologyFile,
                 server: Annotated[str | None, typer.Option(help="Server to break (default: chosen)")] = None,
                 tenant: Annotated[str | None, typer.Option(help="Tenant to break (default: first)")] = None) -> None:
    """Break one property of the running lab on purpose."""
    faults = all_faults()
    if kind not in faults:
        raise fail(f"unknown fault {kind!r}; known: {', '.join(sorted(faults))}")
    _, plan = _running_plan(topology)
    params = {k: v for k, v in (("server", server), ("tenant", tenant)) if v is not None}
    try:
        out.print(f"injected {kind}: {faults[kind](plan, **params)}")
    except TypeError as exc:
        raise fail(f"fault {kind}: {exc}") from None
    out.print(f"undo with: lab fault clear {topology}")


@fault_app.command("clear")
def fault_clear(topology: TopologyFile) -> None:
    """Undo injected faults: converge the lab back to its plan (`lab up`)."""
    _, plan = _running_plan(topology)
    repaired = [str(c) for c in embedded.up(plan).changes] + clear_features(plan)
    out.print(f"cleared: {len(repaired)} repairs" if repaired else "nothing to clear")


@fault_app.command("list")
def fault_list() -> None:
    """Fault kinds this lab can inject."""
    for kind, fn in sorted(all_faults().items()):
        summary = " ".join((fn.__doc__ or "").split()).split(". ")[0]
        out.print(f"{kind:<14} {summary}", soft_wrap=True)
