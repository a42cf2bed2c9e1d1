"""`lab report / exporter / history / dashboards`: look at what verify recorded.

`lab verify` and `lab regress` (which run checks) live with the verify
commands; these only read the history they leave in the lab's results dir.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from lab.cli.common import Format, console, emit, fail, lazy, load_or_exit, out
from lab.cli.crash import guarded
from lab.cli.labs import LabOption, TopologyOption, named_lab
from lab.paths import DEFAULT_HOME

if TYPE_CHECKING:
    from rich.table import Table

    from lab.report.history import History

hist = lazy("lab.report.history")  # sqlite and the run records: loaded when a verb reads them

OptionalTopology = Annotated[Path | None, typer.Argument(
    help="Topology YAML file (names the lab); optional with --lab or a single known lab")]
ResultsOption = Annotated[Path | None, typer.Option(
    "--results-dir", help="Directory holding history.sqlite (default: the lab's results dir)")]

def register(app: typer.Typer, bench: typer.Typer) -> None:
    app.command("report")(report)
    app.command("exporter")(exporter)
    app.command("dashboards")(dashboards)
    app.command("history")(history)


def resolve_results(topology: Path | None, lab: str | None, directory: Path | None,
                    option: Path | None = None) -> Path:
    """The results dir a command reads: explicit, from the topology, from --lab
    (a lab here or one whose results outlived it; else exit 4), or the only
    lab that has results. Exit 2 with the choices otherwise."""
    if directory is not None:
        if not hist.history_path(directory).exists():
            raise fail(f"{directory} has no {hist.history_path(directory).name}; run `lab verify` first")
        return directory
    if topology is not None or option is not None or lab is not None:
        lab = named_lab(topology, lab, option, with_results=True).name
    if lab is None:
        labs = hist.known_result_labs()
        if len(labs) != 1:
            raise fail("name the lab (a topology file or --lab); labs with results: "
                       f"{', '.join(labs) or 'none'}")
        lab = labs[0]
    directory = hist.results_dir(lab)
    if not hist.history_path(directory).exists():
        raise fail(f"lab {lab!r} has no verify history in {directory}; run `lab verify` first")
    return directory


def report(topology: OptionalTopology = None, lab: LabOption = None,
           results: ResultsOption = None,
           out_dir: Annotated[Path | None, typer.Option("--out", help="Output dir (default <results>/report)")] = None,
           last: Annotated[int, typer.Option(help="How many recent runs to plot", min=1)] = 30,
           flaky_changes: Annotated[int, typer.Option(
               "--flaky-changes", min=1, help="Flaky: outcome changed at least this often (K)...")] = 3,
           flaky_runs: Annotated[int, typer.Option(
               "--flaky-runs", min=2, help="...in this many most recent runs (N)")] = 10,
           topology_option: TopologyOption = None) -> None:
    """Render an HTML report (index, a page per run, plots) from the verify history; print where it is."""
    from lab.report.html import render_report

    directory = resolve_results(topology, lab, results, topology_option)
    file = topology or topology_option
    tolerance = load_or_exit(file).specs.iops_tolerance_pct if file else 5.0
    index = render_report(directory, out_dir, last=last, tolerance_pct=tolerance,
                          flaky_changes=flaky_changes, flaky_runs=flaky_runs)
    out.print(f"report: {index}", highlight=False)


def exporter(topology: OptionalTopology = None, lab: LabOption = None,
             results: ResultsOption = None,
             address: Annotated[str, typer.Option(help="Listen address (loopback by default)")] = "127.0.0.1",
             port: Annotated[int, typer.Option(help="Listen port")] = 9464,
             topology_option: TopologyOption = None,
             basic_auth: Annotated[bool, typer.Option(
                 "--basic-auth", help="Require the lab's `exporter` secret (user prometheus; Prometheus "
                 "reads the password from <lab_dir>/secrets/exporter.password)")] = False) -> None:
    """Serve Prometheus metrics: latest verify results, history, live LB/fabric counters."""
    from lab.report.exporter import build_registry, serve

    try:
        ipaddress.ip_address(address)
    except ValueError:
        raise fail(f"--address {address!r} is not an IP address (e.g. 127.0.0.1)") from None
    if not 1 <= port <= 65535:
        raise fail(f"--port {port} is out of range 1-65535")
    directory = resolve_results(topology, lab, results, topology_option)
    file = topology or topology_option
    name = lab or (load_or_exit(file).name if file else directory.name)
    auth_file = _exporter_auth(name) if basic_auth else None
    try:
        server, _ = serve(build_registry([directory], lab=name), address, port, auth_file)
    except OSError as exc:
        raise fail(f"cannot listen on {address}:{port}: {exc.strerror}") from None
    console.print(f"exporter for lab {name}: http://{address}:{server.server_port}/metrics "
                  "(Ctrl-C to stop)", highlight=False)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()


def _exporter_auth(name: str) -> Path:
    """The lab's exporter htpasswd (made by `lab up`, rotated by `lab secrets rotate exporter`)."""
    from lab.ops.secrets import exporter_htpasswd_path

    path = exporter_htpasswd_path(name)
    if not path.exists():
        raise fail(f"--basic-auth: lab {name} has no exporter secret ({path}); run `lab up` first")
    return path


def dashboards(out_dir: Annotated[Path | None, typer.Option("--out", help="Output dir")] = None,
               report_url: Annotated[str | None, typer.Option(
                   "--report-url", help="Where browsers reach <lab>/report/ (default "
                   f"{(DEFAULT_HOME / 'results').as_uri()}; e.g. http://lab1:8088)")] = None) -> None:
    """Regenerate the Grafana dashboards (JSON) from code."""
    from lab.report.dashboards import DASHBOARD_DIR, write_dashboards
    from lab.report.grafana import DEFAULT_REPORT_URL

    url = (report_url or DEFAULT_REPORT_URL).rstrip("/")
    if not url.startswith(("file:///", "http://", "https://")) and not url.startswith("/"):
        raise fail(f"--report-url {report_url!r} must be a file:///, http:// or https:// URL "
                   "or an absolute path")
    for path in write_dashboards(out_dir or DASHBOARD_DIR, url):
        out.print(str(path), highlight=False)


@guarded
def history(topology: OptionalTopology = None, lab: LabOption = None,
            results: ResultsOption = None,
            last: Annotated[int, typer.Option(help="How many recent runs", min=1)] = 20,
            pin: Annotated[int | None, typer.Option(
                "--pin", help="Pin this run id as the baseline for `lab regress`")] = None,
            unpin: Annotated[bool, typer.Option(
                "--unpin", help="Compare with the last good run again")] = False,
            fmt: Format = "table",
            wide: Annotated[bool, typer.Option("--wide", help="Full table instead of one line per run")] = False,
            topology_option: TopologyOption = None) -> None:
    """List recent verify runs; pin or unpin the regression baseline.

    Retire a baseline: `--pin ID` a newer good run, or `--unpin` to compare with the last good run."""
    directory = resolve_results(topology, lab, results, topology_option)
    with hist.History.for_lab(directory) as store:
        if pin is not None:
            try:
                store.pin(pin)
            except KeyError:
                raise fail(f"no run {pin}; see `lab history`") from None
            console.print(f"run {pin} pinned as the baseline")
        if unpin:
            for name in store.labs():
                store.unpin(name)
            console.print("baseline unpinned: regress compares with the last good run")
        rows = _history_rows(store, last)
    if fmt == "json":
        emit(rows, "json")
    elif wide:
        out.print(_history_table(rows, directory))
    else:
        _history_lines(rows, directory)


def _history_rows(store: History, last: int) -> list[dict]:
    rows = []
    for name in store.labs():
        pinned = store.pinned_run_id(name)
        for run in store.runs(name, limit=last):
            rows.append({"id": run.id, "lab": name, "started_at": run.started_at,
                         "passed": run.passed, "checks": len(run.results),
                         "failed": [r.name for r in run.results if not r.passed],
                         "topology_hash": run.topology_hash, "pinned": run.id == pinned})
    return rows


def _when(started_at: float) -> str:
    return dt.datetime.fromtimestamp(started_at).strftime("%Y-%m-%d %H:%M")


def _history_lines(rows: list[dict], directory: Path) -> None:
    """One line per run: id, time, result, checks, baseline mark, what failed."""
    out.print(f"verify history ({directory})", markup=False, highlight=False, soft_wrap=True)
    several = len({r["lab"] for r in rows}) > 1
    lines = []
    for r in rows:
        result = Text("pass", style="green") if r["passed"] else Text("FAIL", style="bold red")
        failed = ", ".join(r["failed"])
        lines.append([f"#{r['id']}", *([r["lab"]] if several else []), _when(r["started_at"]), result,
                      f"{r['checks']} checks", "pinned" if r["pinned"] else "",
                      Text(f"failed: {failed}" if failed else "")])
    from lab.lines import print_lines

    print_lines(out, lines)


def _history_table(rows: list[dict], directory: Path) -> Table:
    from rich.table import Table

    table = Table(title=f"verify history ({directory})")
    for column in ("run", "lab", "time", "result", "checks", "failed", "topology", "baseline"):
        table.add_column(column, overflow="fold")
    for r in rows:
        table.add_row(str(r["id"]), r["lab"],
                      _when(r["started_at"]),
                      "[green]pass[/]" if r["passed"] else "[red]fail[/]", str(r["checks"]),
                      ", ".join(r["failed"]), r["topology_hash"], "pinned" if r["pinned"] else "")
    return table
