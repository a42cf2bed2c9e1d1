"""CLI: `lab graph FILE [--format dot|mermaid] [-o OUT]`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lab.graph.render import RENDERERS, render

SUFFIXES = {".dot": "dot", ".gv": "dot", ".mmd": "mermaid", ".mermaid": "mermaid"}


def graph(
    topology: Annotated[Path, typer.Argument(help="Topology YAML file")],
    fmt: Annotated[
        str | None, typer.Option("--format", help="dot or mermaid (default: from the -o suffix, else dot)")
    ] = None,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Write here instead of stdout")] = None,
) -> None:
    """Draw the topology: ToR, servers, client, tenants and their VMs, load balancers."""
    # imported here: lab.cli imports this module while it is being imported
    from lab.cli import check_format, console, fail, load_or_exit

    fmt = fmt or SUFFIXES.get(output.suffix.lower() if output else "", "dot")
    check_format(fmt, tuple(RENDERERS))
    text = render(load_or_exit(topology), fmt)
    if output is None:
        print(text, end="")
        return
    try:
        output.write_text(text)
    except OSError as exc:
        raise fail(f"cannot write {output}: {exc.strerror}") from None
    console.print(f"wrote {output} ({fmt})")


def register(app: typer.Typer, bench: typer.Typer) -> None:
    app.command("graph")(graph)
