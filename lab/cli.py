"""`lab`: the command line. Thin: parse, call the library, print.

Feature packages add their own commands through `register(app, bench)` in
their `commands` module, listed in FEATURE_COMMANDS.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.console import Console

from lab.exitcodes import ExitCode
from lab.features import optional_modules
from lab.model import TopologyError, load_topology

app = typer.Typer(help="stacklab: bring a lab up from a description, verify it, catch regressions.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
bench = typer.Typer(help="Benchmarks (ratios against a baseline measured in the same run).",
                    no_args_is_help=True)
app.add_typer(bench, name="bench")

console = Console(stderr=True)
out = Console()

FEATURE_COMMANDS = (
    "lab.providers.commands",
    "lab.graph.commands",
    "lab.compute.commands",
    "lab.lb.commands",
    "lab.verify.commands",
    "lab.report.commands",
)

TopologyFile = Annotated[Path, typer.Argument(help="Topology YAML file, e.g. topologies/embedded.yaml")]
Format = Annotated[str, typer.Option("--format", help="Output format: table, json or yaml")]


def fail(message: str, code: int = 2) -> typer.Exit:
    console.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code)


def is_root() -> bool:
    return os.geteuid() == 0


def require_root(what: str) -> None:
    """Exit 4 (the rig cannot measure) unless running as root; `what` says why root."""
    if not is_root():
        raise fail(f"{what} and needs root (run it with sudo)", ExitCode.CANNOT_MEASURE)


def check_format(fmt: str, allowed: tuple[str, ...]) -> None:
    if fmt not in allowed:
        raise fail(f"--format {fmt!r} is not supported; use one of: {', '.join(allowed)}")


def load_or_exit(path: Path):
    """Load a topology or exit 2 listing every problem with its line."""
    try:
        return load_topology(path)
    except TopologyError as exc:
        console.print(f"[bold red]{exc.source}: {len(exc.issues)} problem(s)[/]")
        for issue in exc.issues:
            console.print(f"  {issue}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None


def emit(data: object, fmt: str) -> None:
    if fmt == "json":
        out.print_json(json.dumps(data, default=str))
    else:
        print(yaml.safe_dump(data, sort_keys=False, default_flow_style=False), end="")


@app.command()
def validate(topology: TopologyFile,
             fmt: Format = "table") -> None:
    """Check a topology file; report every problem with its YAML path and line (exit 2)."""
    check_format(fmt, ("table", "json"))
    if fmt == "json":
        try:
            topo = load_topology(topology)
        except TopologyError as exc:
            emit({"valid": False, "errors": [vars(i) for i in exc.issues]}, "json")
            raise typer.Exit(2) from None
        emit({"valid": True, "lab": topo.name, "errors": []}, "json")
        return
    topo = load_or_exit(topology)
    out.print(f"[green]{topology}: valid[/] (lab {topo.name}: {len(topo.servers)} servers, "
              f"{len(topo.tenants)} tenants, {len(topo.vms)} VMs, {len(topo.load_balancers)} LBs)")


def _register_features() -> None:
    for module in optional_modules(FEATURE_COMMANDS):
        module.register(app, bench)


_register_features()


def main() -> None:  # pragma: no cover - console entry
    sys.exit(app())
