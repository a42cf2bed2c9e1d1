"""`lab verify`, `lab regress`, `lab fault inject/clear`.

Exit status (lab.exitcodes): 0 all good, 1 a spec not met, 2 bad input,
3 a regression with every spec met, 4 the rig could not measure.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from lab.cli.common import (
    Format,
    TopologyFile,
    check_format,
    console,
    emit,
    fail,
    lazy,
    load_or_exit,
    out,
    require_root,
)
from lab.cli.crash import guarded
from lab.cli.regress_view import render_regressions
from lab.cli.verify_view import render_summary
from lab.exitcodes import HELP, ExitCode, for_verdicts
from lab.report.history import History, results_dir
from lab.report.junit import write_junit
from lab.report.regress import (
    RegressionReport,
    regress_against_baseline,
    specs_from_topology,
)
from lab.report.runs import RetentionError, junit_properties, keep_runs, new_run_dir, record_run
from lab.verify.catalog import all_faults, checks_for, clear_features
from lab.verify.runner import VerifyRun, run_checks, run_config, topology_hash

embedded = lazy("lab.providers.embedded")
planner = lazy("lab.plan.planner")
GROUPS = ("fabric", "storage", "lb", "rdma", "baseline", "hlh", "vpn")
Only = Annotated[list[str] | None, typer.Option("--only", help=f"Run one group only: {', '.join(GROUPS)}")]
Junit = Annotated[Path | None, typer.Option(
    "--junit", help="Also write JUnit XML here (the run's own junit.xml is always written)")]
Wide = Annotated[bool, typer.Option("--wide", help="Full table (evidence, reasons) instead of one line per check")]
KeepRuns = Annotated[int | None, typer.Option(
    "--keep-runs", help="Keep the results and evidence of this many runs (default $STACKLAB_KEEP_RUNS or 30)")]
Debug = Annotated[bool, typer.Option("--debug", help="On a crash, print the traceback too")]
fault_app = typer.Typer(help="Inject faults to prove the rig catches them; clear them again.",
                        no_args_is_help=True)


def register(app: typer.Typer, bench: typer.Typer) -> None:
    app.command("verify", epilog=HELP)(verify)
    app.command("regress", epilog=HELP)(regress)
    app.add_typer(fault_app, name="fault")


def _running_plan(topology: Path):
    topo = load_or_exit(topology)
    require_root("verification runs probes inside the lab's namespaces")
    plan = embedded.saved_plan(topo.name)
    if plan is None:
        raise fail(f"lab {topo.name} is not up: run `lab up {topology}` first", ExitCode.CANNOT_MEASURE)
    if plan != planner.build_plan(topo):
        console.print(f"[yellow]warning:[/] {topology} changed since `lab up`; run `lab up` to converge")
    return topo, plan


def _run_verify(topology: Path, only: list[str] | None, keep: int | None) -> tuple[object, VerifyRun]:
    for group in only or ():
        if group not in GROUPS:
            raise fail(f"--only {group!r}: unknown group; use one of: {', '.join(GROUPS)}")
    try:
        keep = keep_runs(keep)
    except RetentionError as exc:
        raise fail(str(exc)) from None
    topo, plan = _running_plan(topology)
    directory = results_dir(topo.name)
    run = run_checks(checks_for(plan), topo.name, topology_hash(topo),
                     run_config({"provider": "embedded"}), only=only, console=console,
                     run_dir=new_run_dir(directory))
    return topo, record_run(run, directory, keep=keep)


def _junit_writable(path: Path | None) -> None:
    """Refuse an unwritable --junit before a long run, not after it."""
    if path is None:
        return
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK) or path.is_dir():
        raise fail(f"--junit {path}: cannot write there; give a file path in a writable directory")


def _write_junit(run: VerifyRun, path: Path | None, report: RegressionReport | None = None) -> None:
    if path is None:
        return
    try:
        write_junit(run.results, path, suite=run.lab, timestamp=run.started_at,
                    properties=junit_properties(run), regress=report.to_json() if report else None)
    except OSError as exc:
        raise fail(f"--junit {path}: cannot write it: {exc.strerror}") from None


@guarded
def verify(topology: TopologyFile, only: Only = None, fmt: Format = "table", junit: Junit = None,
           wide: Wide = False, keep: KeepRuns = None, debug: Debug = False) -> None:
    """Check the running lab against its topology's specs (exit 0 only if all pass)."""
    check_format(fmt, ("table", "json"))
    _junit_writable(junit)
    _, run = _run_verify(topology, only, keep)
    _write_junit(run, junit)
    if fmt == "json":
        emit(run.to_json(), "json")
    else:
        render_summary(run, out, wide=wide)
    raise typer.Exit(for_verdicts(r.verdict for r in run.results))


@guarded
def regress(topology: Annotated[Path | None, typer.Argument(
                help="Topology YAML file; optional with --run (then --lab or the only lab)")] = None,
            only: Only = None,
            baseline: Annotated[int | None, typer.Option(
                help="Baseline run id (default: pinned, else last good)")] = None,
            run_id: Annotated[int | None, typer.Option(
                "--run", help="Compare this recorded run instead of verifying now (see `lab history`)")] = None,
            lab: Annotated[str | None, typer.Option("--lab", help="Lab name, with --run")] = None,
            fmt: Format = "table", junit: Junit = None, wide: Wide = False,
            keep: KeepRuns = None, debug: Debug = False) -> None:
    """Verify (or take a recorded run), then compare every metric with the
    baseline run; exit 3 on a regression when every spec is met."""
    check_format(fmt, ("table", "json"))
    _junit_writable(junit)
    if run_id is None:
        if topology is None:
            raise fail("give the topology file (or --run ID to compare a recorded run)")
        topo, run = _run_verify(topology, only, keep)
        specs = specs_from_topology(topo)
    else:
        if only:
            raise fail("--only selects checks of a new run; a recorded run (--run) is compared whole")
        run, specs = _recorded(topology, lab, run_id)
    with History.for_lab(results_dir(run.lab)) as history:
        try:
            report = regress_against_baseline(history, run.run_id, specs=specs,
                                              baseline_run_id=baseline, record=run_id is None)
        except KeyError:
            raise fail(f"--baseline {baseline}: no such run; see `lab history`") from None
    _write_junit(run, junit, report)
    if fmt == "json":
        emit({"verify": run.to_json(), "regress": report.to_json()}, "json")
    else:
        render_summary(run, out, wide=wide)
        render_regressions(report, out, wide=wide)
    raise typer.Exit(for_verdicts((r.verdict for r in run.results), regressed=not report.passed))


def _recorded(topology: Path | None, lab: str | None, run_id: int):
    """A run from the history, as the VerifyRun `lab regress` reports on."""
    from lab.cli.report import resolve_results

    topo = load_or_exit(topology) if topology else None
    directory = resolve_results(topology, lab, None)
    with History.for_lab(directory) as history:
        try:
            record = history.run(run_id)
        except KeyError:
            raise fail(f"--run {run_id}: no such run in {directory}; see `lab history`") from None
    run = VerifyRun(lab=record.lab, started_at=record.started_at, duration_s=record.duration_s,
                    topology_hash=record.topology_hash, config=record.config,
                    results=record.results, run_id=record.id)
    return run, specs_from_topology(topo) if topo else None


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
