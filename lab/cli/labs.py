"""How every verb names its lab, the same way everywhere.

A verb that acts on a lab takes its topology file (TOPOLOGY, where the verb
has room for a positional argument, or `-t/--topology FILE`) or its name
(`--lab NAME`, when the file is gone or elsewhere). Neither, or a file and a
name of different labs, is bad input (exit 2). A name must be a lab this host holds:
otherwise exit 4 (the rig has nothing to look at) with "no lab NAME; labs
here: ...", and a did-you-mean. A topology file always names a lab, so a
verb may say "not up" about it in its own words (`lab down FILE` of a lab
that is gone is simply done).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from lab.cli import complete
from lab.cli.common import fail, load_or_exit
from lab.exitcodes import ExitCode

LabOption = Annotated[str | None, typer.Option(
    "--lab", help="Lab name (see lab list), instead of a topology file", autocompletion=complete.lab_names)]
TopologyOption = Annotated[Path | None, typer.Option(
    "--topology", "-t", help="Topology file that names the lab (instead of --lab)")]
TopologyArgument = Annotated[Path | None, typer.Argument(
    help="Topology file that names the lab (or -t FILE, or --lab NAME)")]
LabArgument = Annotated[str, typer.Argument(
    help="Lab name (see lab list) or its topology file", autocompletion=complete.lab_names)]


@dataclass(frozen=True)
class NamedLab:
    name: str
    file: Path | None = None  # the topology file, when the lab was named by one
    topology: Any = None      # that file, loaded (lab.model.Topology)


def labs_here(with_results: bool = False) -> list[str]:
    """Labs this host holds (a lab directory); with their results kept after `down` too."""
    from lab.paths import home
    from lab.providers.state import known_labs

    labs = set(known_labs())
    results = home() / "results"
    if with_results and results.is_dir():
        labs |= {p.name for p in results.iterdir() if p.is_dir()}
    return sorted(labs)


def no_such_lab(name: str, labs: Iterable[str]) -> typer.Exit:
    from lab.model.problems import did_you_mean

    labs = sorted(labs)
    return fail(f"no lab {name}{did_you_mean(name, labs)}; labs here: {', '.join(labs) or 'none'}",
                ExitCode.CANNOT_MEASURE)


def require_known(name: str, with_results: bool = False) -> str:
    """`name`, or exit 4 listing the labs here."""
    labs = labs_here(with_results)
    if name not in labs:
        raise no_such_lab(name, labs)
    return name


def named_lab(topology: Path | None = None, lab: str | None = None, option: Path | None = None,
              *, known: bool = True, with_results: bool = False) -> NamedLab:
    """The lab a verb was given: TOPOLOGY, -t FILE or --lab NAME (a file and
    a name must agree). `known`: a --lab NAME must be a lab here (else exit 4);
    `with_results`: one whose results outlived it counts (history, report)."""
    if topology is not None and option is not None:
        raise fail("give the topology file once: TOPOLOGY or -t FILE, not both")
    file = topology if topology is not None else option
    if file is None and lab is None:
        labs = labs_here(with_results)
        raise fail("name the lab: a topology file or --lab NAME"
                   + (f" (labs here: {', '.join(labs)})" if labs else ""))
    if file is None:
        return NamedLab(require_known(lab, with_results) if known else lab)
    topo = load_or_exit(file)
    if lab is not None and lab != topo.name:
        raise fail(f"{file} is lab {topo.name} but --lab says {lab}: give one of them")
    return NamedLab(topo.name, file, topo)


def lab_argument(value: str) -> NamedLab:
    """A positional LAB (`lab exec LAB NODE`): a lab's name, or its topology
    file (a path to an existing file, or one ending in .yaml/.yml)."""
    path = Path(value)
    if path.suffix in (".yaml", ".yml") or path.is_file():
        return named_lab(topology=path)
    return NamedLab(require_known(value))
