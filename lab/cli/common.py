"""What every verb shares: the consoles, the topology argument and
--format option, errors that exit with the right code, root, output."""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from lab.exitcodes import ExitCode

console = Console(stderr=True)
out = Console()

TopologyFile = Annotated[Path, typer.Argument(help="Topology YAML file, e.g. topologies/embedded.yaml")]


def one_of(choices: tuple[str, ...] | list[str]) -> str:
    """"a", "a or b", "a, b or c": how help and errors list choices."""
    return choices[0] if len(choices) == 1 else f"{', '.join(choices[:-1])} or {choices[-1]}"


def _format_parser(choices: tuple[str, ...]) -> Any:
    """Refuse a format while parsing, before the verb runs, in the one-line
    `error:` form of every other bad input (exit 2)."""
    def parse(value: str) -> str:
        check_format(value, choices)
        return value

    return parse


def format_option(*choices: str, help_text: str | None = None) -> Any:
    """--format that offers, completes and accepts exactly `choices`: the
    help text and the parser come from the same tuple, so they cannot
    disagree (tests/model/test_formats.py walks every command)."""
    return typer.Option("--format", parser=_format_parser(choices), metavar="|".join(choices),
                        help=help_text or f"Output format: {one_of(choices)}",
                        autocompletion=lambda: list(choices))


# the --format of every verb that prints a table for people or JSON for scripts
Format = Annotated[str, format_option("table", "json")]


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
    """For a format not given as --format (graph's, taken from the -o suffix);
    --format itself is checked by its parser (format_option)."""
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
        import yaml

        print(yaml.safe_dump(data, sort_keys=False, default_flow_style=False), end="")


