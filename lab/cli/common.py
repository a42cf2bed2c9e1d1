"""What every verb shares: the consoles, the topology argument and
--format option, errors that exit with the right code, root, output."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console

from lab.exitcodes import ExitCode
from lab.model import TopologyError, load_topology

console = Console(stderr=True)
out = Console()

TopologyFile = Annotated[Path, typer.Argument(help="Topology YAML file, e.g. topologies/embedded.yaml")]
Format = Annotated[str, typer.Option("--format", help="Output format: table, json or yaml")]


def format_option(*choices: str) -> Any:
    """--format that offers only the formats its command supports."""
    return typer.Option("--format", help=f"Output format: {' or '.join(choices)}")


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


