"""CLI: `lab graph FILE [--format dot|mermaid|png|svg] [-o OUT]`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from lab.cli.common import format_option, one_of

FORMATS = ("dot", "mermaid", "png", "svg")  # lab.graph's renderers and image formats (tested)
SUFFIXES = {".dot": "dot", ".gv": "dot", ".mmd": "mermaid", ".mermaid": "mermaid", ".png": "png", ".svg": "svg"}


def graph(
    topology: Annotated[Path, typer.Argument(help="Topology YAML file")],
    fmt: Annotated[str | None, format_option(
        *FORMATS, help_text=f"{one_of(FORMATS)} (default: from the -o suffix, else dot)")] = None,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Write here instead of stdout")] = None,
) -> None:
    """Draw the topology: ToR, servers, client, tenants and their VMs, load balancers."""
    from lab.cli.common import check_format, console, fail, load_or_exit
    from lab.graph.image import IMAGE_FORMATS, GraphvizError, dot_to_image
    from lab.graph.render import render

    fmt = fmt or SUFFIXES.get(output.suffix.lower() if output else "", "dot")
    check_format(fmt, FORMATS)
    topo = load_or_exit(topology)
    if fmt in IMAGE_FORMATS:
        try:
            data = dot_to_image(render(topo, "dot"), fmt)
        except GraphvizError as exc:
            raise fail(str(exc), 1) from None
    else:
        data = render(topo, fmt).encode()
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    try:
        output.write_bytes(data)
    except OSError as exc:
        raise fail(f"cannot write {output}: {exc.strerror}") from None
    console.print(f"wrote {output} ({fmt})")


def register(app: typer.Typer, bench: typer.Typer) -> None:
    app.command("graph")(graph)
