"""Every --format says exactly what it accepts: for every command path, the
formats its help offers are the formats its parser takes, and any other is
refused with exit 2 before the verb runs."""

from __future__ import annotations

import re

import pytest
import typer

from lab.cli import app

# every format any verb might print, and some none does
UNIVERSE = ("table", "json", "yaml", "dot", "mermaid", "png", "svg", "xml", "csv")
# the verbs the audit found offering yaml they refused
TABLE_OR_JSON = [("up",), ("status",), ("apply-host",), ("verify",), ("regress",), ("history",), ("list",),
                 ("image", "build"), ("bench", "vms")]


def _leaves(command, path: tuple[str, ...] = ()):
    subs = getattr(command, "commands", None)
    if subs is None:
        yield path, command
        return
    for name, sub in subs.items():
        yield from _leaves(sub, (*path, name))


ROOT = typer.main.get_command(app)
WITH_FORMAT = {path: cmd for path, cmd in _leaves(ROOT)
               if any("--format" in getattr(p, "opts", ()) for p in cmd.params)}


def _format_param(cmd):
    return next(p for p in cmd.params if "--format" in p.opts)


def _offered(cmd) -> set[str]:
    """The formats the help text names (the words of `--format`'s help)."""
    words = set(re.findall(r"[a-z]+", _format_param(cmd).help or ""))
    return words & set(UNIVERSE)


def _required(cmd) -> list[str]:
    """Placeholder values for the other required parameters, so only --format decides."""
    args: list[str] = []
    for p in cmd.params:
        if not p.required:
            continue
        if getattr(p, "opts", None) and p.opts[0].startswith("-"):
            args += [p.opts[0], "1"]
        else:
            args.append("1")
    return args


def _accepts(cmd, fmt: str) -> bool:
    try:
        cmd.make_context("lab", [*_required(cmd), "--format", fmt])
    except typer.Exit as exc:
        assert exc.exit_code == 2
        return False
    return True


def test_the_walk_finds_every_verb_with_a_format():
    assert set(TABLE_OR_JSON) <= set(WITH_FORMAT), sorted(set(TABLE_OR_JSON) - set(WITH_FORMAT))
    assert len(WITH_FORMAT) >= 20


@pytest.mark.parametrize("path", sorted(WITH_FORMAT), ids=" ".join)
def test_help_offers_exactly_the_formats_the_command_accepts(path, capsys):
    cmd = WITH_FORMAT[path]
    offered = _offered(cmd)
    accepted = {fmt for fmt in UNIVERSE if _accepts(cmd, fmt)}
    assert offered, f"lab {' '.join(path)} --format names no format"
    assert offered == accepted, f"lab {' '.join(path)}: help offers {sorted(offered)}, accepts {sorted(accepted)}"
    assert "not supported" in capsys.readouterr().err  # the refusal says why


@pytest.mark.parametrize("path", TABLE_OR_JSON, ids=" ".join)
def test_the_audited_verbs_offer_table_or_json_only(path):
    assert _offered(WITH_FORMAT[path]) == {"table", "json"}


def test_graph_offers_what_the_graph_package_renders():
    from lab.cli.graph import FORMATS
    from lab.graph.image import IMAGE_FORMATS
    from lab.graph.render import RENDERERS

    assert set(FORMATS) == set(RENDERERS) | set(IMAGE_FORMATS)
    assert _offered(WITH_FORMAT[("graph",)]) == set(FORMATS)
