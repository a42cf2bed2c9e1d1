"""What every verb shares: the consoles, the topology argument and
--format option, errors that exit with the right code, root, output."""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console

from lab.exitcodes import ExitCode

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


class lazy:  # noqa: N801 - stands in for a module
    """A module imported on first use: `lab --help` must not pay for
    pydantic, pyroute2 or scipy (each verb imports what it runs)."""

    def __init__(self, name: str):
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        return getattr(importlib.import_module(self._name), attr)


def load_or_exit(path: Path):
    """Load a topology or exit 2 listing every problem with its line."""
    from lab.model import TopologyError, load_topology

    try:
        return load_topology(path)
    except TopologyError as exc:
        console.print(f"[bold red]{exc.source}: {len(exc.issues)} problem(s)[/]")
        for issue in exc.issues:
            console.print(f"  {issue}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None


def emit(data: object, fmt: str) -> None:
    if fmt == "json" and out.is_terminal:  # colours for a person
        out.print_json(json.dumps(data, default=str))
    elif fmt == "json":  # the same text for a pipe, without rich's highlighting (0.4 s for a plan)
        print(json.dumps(data, indent=2, ensure_ascii=False, default=str))
    else:
        print(yaml.safe_dump(data, sort_keys=False, default_flow_style=False), end="")


