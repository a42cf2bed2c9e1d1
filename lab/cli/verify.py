"""`lab verify`, `lab regress`, `lab fault inject/clear`.

Exit status (lab.exitcodes): 0 all good, 1 a spec not met, 2 bad input,
3 a regression with every spec met, 4 the rig could not measure.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from lab.cli import complete
from lab.cli.common import Format, console, emit, fail, lazy, out, require_root
from lab.cli.crash import guarded
from lab.cli.labs import LabOption, NamedLab, TopologyArgument, TopologyOption, named_lab
from lab.exitcodes import HELP, ExitCode, for_verdicts
from lab.features import CHECK_GROUPS as GROUPS

if TYPE_CHECKING:
    from lab.report.regress import RegressionReport
    from lab.verify.runner import VerifyRun

# what runs checks and keeps runs loads when a verb runs, not for --help or <TAB>
embedded = lazy("lab.providers.embedded")
planner = lazy("lab.plan.planner")
catalog = lazy("lab.verify.catalog")
verification = lazy("lab.report.verification")
runs = lazy("lab.report.runs")
history = lazy("lab.report.history")
regression = lazy("lab.report.regress")
views = lazy("lab.cli.verify_view")
regress_views = lazy("lab.cli.regress_view")
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


def _running_plan(named: NamedLab):
    """The plan the named lab runs (exit 4 if it is not up); a topology file
    that changed since `up` is verified as it was brought up, with a warning."""
    require_root("verification runs probes inside the lab's namespaces")
    try:
        plan = verification.running_plan(named.name)
    except verification.LabNotUpError:
        how = f"lab up {named.file}" if named.file else "lab up TOPOLOGY"
        raise fail(f"lab {named.name} is not up: run `{how}` first", ExitCode.CANNOT_MEASURE) from None
    if named.topology is not None and plan != planner.build_plan(named.topology):
        console.print(f"[yellow]warning:[/] {named.file} changed since `lab up`; run `lab up` to converge")
    return plan


def _run_verify(named: NamedLab, only: list[str] | None, keep: int | None) -> tuple[object, VerifyRun]:
    """Check the arguments, then verify and record (lab.report.verification)."""
    try:
        verification.check_groups(only)
        runs.keep_runs(keep)
    except (verification.UnknownGroupError, runs.RetentionError) as exc:
        raise fail(str(exc)) from None
    plan = _running_plan(named)
    return plan, verification.verify_lab(plan, only, keep, console=console)


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
        from lab.report.junit import write_junit

        write_junit(run.results, path, suite=run.lab, timestamp=run.started_at,
                    properties=runs.junit_properties(run), regress=report.to_json() if report else None)
    except OSError as exc:
        raise fail(f"--junit {path}: cannot write it: {exc.strerror}") from None


@guarded
def verify(topology: TopologyArgument = None, only: Only = None, fmt: Format = "table", junit: Junit = None,
           wide: Wide = False, keep: KeepRuns = None, debug: Debug = False, lab: LabOption = None,
           topology_option: TopologyOption = None) -> None:
    """Check the running lab against its topology's specs (exit 0 only if all pass)."""
    _junit_writable(junit)
    _, run = _run_verify(named_lab(topology, lab, topology_option), only, keep)
    _write_junit(run, junit)
    if fmt == "json":
        emit(run.to_json(), "json")
    else:
        views.render_summary(run, out, wide=wide)
    raise typer.Exit(for_verdicts(r.verdict for r in run.results))


@guarded
def regress(topology: Annotated[Path | None, typer.Argument(
                help="Topology YAML file; optional with --run (then --lab or the only lab)")] = None,
            only: Only = None,
            baseline: Annotated[int | None, typer.Option(
                help="Baseline run id (default: pinned, else last good)")] = None,
            run_id: Annotated[int | None, typer.Option(
                "--run", help="Compare this recorded run instead of verifying now (see `lab history`)")] = None,
            lab: LabOption = None,
            fmt: Format = "table", junit: Junit = None, wide: Wide = False,
            keep: KeepRuns = None, debug: Debug = False, topology_option: TopologyOption = None) -> None:
    """Verify (or take a recorded run), then compare every metric with the
    baseline run; exit 3 on a regression when every spec is met."""
    _junit_writable(junit)
    if run_id is None:
        if topology is None and topology_option is None and lab is None:
            raise fail("give the topology file or --lab NAME (or --run ID to compare a recorded run)")
        plan, run = _run_verify(named_lab(topology, lab, topology_option), only, keep)
        specs = regression.specs_from_topology(plan)  # the plan carries the topology's specs
    else:
        if only:
            raise fail("--only selects checks of a new run; a recorded run (--run) is compared whole")
        run, specs = _recorded(topology if topology is not None else topology_option, lab, run_id)
    with history.History.for_lab(history.results_dir(run.lab)) as store:
        try:
            report = regression.regress_against_baseline(store, run.run_id, specs=specs,
                                              baseline_run_id=baseline, record=run_id is None)
        except KeyError:
            raise fail(f"--baseline {baseline}: no such run; see `lab history`") from None
    _write_junit(run, junit, report)
    if fmt == "json":
        emit({"verify": run.to_json(), "regress": report.to_json()}, "json")
    else:
        views.render_summary(run, out, wide=wide)
        regress_views.render_regressions(report, out, wide=wide)
    raise typer.Exit(for_verdicts((r.verdict for r in run.results), regressed=not report.passed,
                                  unjudged=bool(report.unjudged)))


def _recorded(topology: Path | None, lab: str | None, run_id: int):
    """A run from the history, as the VerifyRun `lab regress` reports on."""
    from lab.cli.report import resolve_results

    topo = named_lab(topology).topology if topology else None
    directory = resolve_results(topology, lab, None)
    with history.History.for_lab(directory) as store:
        try:
            record = store.run(run_id)
        except KeyError:
            raise fail(f"--run {run_id}: no such run in {directory}; see `lab history`") from None
    from lab.verify.runner import VerifyRun

    run = VerifyRun(lab=record.lab, started_at=record.started_at, duration_s=record.duration_s,
                    topology_hash=record.topology_hash, config=record.config,
                    results=record.results, run_id=record.id)
    return run, regression.specs_from_topology(topo) if topo else None


@fault_app.command("inject")
def fault_inject(kind: Annotated[str, typer.Argument(help="Fault kind (see `lab fault list`)",
                                                    autocompletion=complete.fault_kinds)],
                 topology: TopologyArgument = None,
                 server: Annotated[str | None, typer.Option(help="Server to break (default: chosen)")] = None,
                 tenant: Annotated[str | None, typer.Option(help="Tenant to break (default: first)")] = None,
                 lab: LabOption = None, topology_option: TopologyOption = None) -> None:
    """Break one property of the running lab on purpose."""
    named = named_lab(topology, lab, topology_option)
    faults = catalog.all_faults()
    if kind not in faults:
        raise fail(f"unknown fault {kind!r}; known: {', '.join(sorted(faults))}")
    plan = _running_plan(named)
    params = {k: v for k, v in (("server", server), ("tenant", tenant)) if v is not None}
    try:
        out.print(f"injected {kind}: {faults[kind](plan, **params)}")
    except TypeError as exc:
        raise fail(f"fault {kind}: {exc}") from None
    out.print(f"undo with: lab fault clear {named.file or f'--lab {named.name}'}")


@fault_app.command("clear")
def fault_clear(topology: TopologyArgument = None, lab: LabOption = None,
                topology_option: TopologyOption = None) -> None:
    """Undo injected faults: converge the lab back to its plan (`lab up`)."""
    plan = _running_plan(named_lab(topology, lab, topology_option))
    repaired = [str(c) for c in embedded.up(plan).changes] + catalog.clear_features(plan)
    out.print(f"cleared: {len(repaired)} repairs" if repaired else "nothing to clear")


@fault_app.command("list")
def fault_list() -> None:
    """Fault kinds this lab can inject."""
    for kind, fn in sorted(catalog.all_faults().items()):
        summary = " ".join((fn.__doc__ or "").split()).split(". ")[0]
        out.print(f"{kind:<14} {summary}", soft_wrap=True)
