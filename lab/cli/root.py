"""The `lab` application: the root command, `validate` and `schema`, and
every feature's verbs, registered from lab.features (each feature's
`commands` module has `register(app, bench)`)."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from lab.cli.common import TopologyFile, emit, format_option, load_or_exit, out
from lab.cli.crash import guard_all
from lab.features import command_modules

HELP_OPTIONS = {"help_option_names": ["-h", "--help"]}


class _Commands(typer.core.TyperGroup):
    """The root group: before parsing, every flag of every command loses its
    type placeholder in help (`--dry-run <bool>` reads as if it took a value)."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        _flags_without_type(self, None)
        return super().main(*args, **kwargs)


def _flags_without_type(command: Any, parent: typer.Context | None) -> None:
    ctx = typer.Context(command, parent=parent, **command.context_settings)  # help options as the real run
    for param in command.get_params(ctx):
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    for sub in getattr(command, "commands", {}).values():
        _flags_without_type(sub, ctx)


app = typer.Typer(help="stacklab: bring a lab up from a description, verify it, catch regressions.",
                  no_args_is_help=True, pretty_exceptions_enable=False, cls=_Commands,
                  context_settings=HELP_OPTIONS)
bench = typer.Typer(help="Benchmarks (ratios against a baseline measured in the same run).",
                    no_args_is_help=True)
app.add_typer(bench, name="bench")

def _version(show: bool) -> None:
    if show:
        from importlib import metadata

        out.print(f"stacklab {metadata.version('stacklab')}", highlight=False)
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                help="Print the version and exit")] = False) -> None:
    pass


@app.command()
def validate(topology: TopologyFile,
             fmt: Annotated[str, format_option("table", "json")] = "table") -> None:
    """Check a topology file; report every problem with its YAML path and line (exit 2)."""
    if fmt == "json":
        from lab.model import TopologyError, load_topology

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


@app.command()
def schema(markdown: Annotated[bool, typer.Option("--markdown", help="Print the reference page "
                                                  "(docs/topology.md) instead")] = False) -> None:
    """Print the topology's JSON Schema, for an editor's YAML language server (see the README)."""
    from lab.model.schema import schema_json, topology_markdown

    print(topology_markdown() if markdown else schema_json(), end="")


def _register_features() -> None:
    for module in command_modules():
        module.register(app, bench)


_register_features()
guard_all(app)


def main() -> None:  # pragma: no cover - console entry
    sys.exit(app())
