"""The rough edges a new user hits first: version, -h, honest help, unknown labs."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from lab.cli import app

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]


def _command_paths(command, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = [path]
    for name, sub in getattr(command, "commands", {}).items():
        paths += _command_paths(sub, (*path, name))
    return paths


def test_version_prints_the_package_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"stacklab {metadata.version('stacklab')}"


@pytest.mark.parametrize("args", [["-h"], ["plan", "-h"], ["lb", "add-vip", "-h"]])
def test_short_help_works_everywhere(args):
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def test_no_flag_shows_a_value_placeholder():
    """`--dry-run <bool>` reads as if the flag took a value; no command's help has one."""
    paths = _command_paths(typer.main.get_command(app))
    assert len(paths) > 20
    for path in paths:
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        assert "<bool>" not in result.output, f"lab {' '.join(path)} --help shows <bool>"


def test_the_installed_command_has_no_placeholder_either():
    done = subprocess.run([sys.executable, "-m", "lab", "up", "--help"], capture_output=True, text=True,
                          cwd=ROOT, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "--dry-run" in done.stdout and "<bool>" not in done.stdout


def _format_help(command: str) -> str:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0
    (line,) = [row for row in result.output.splitlines() if "--format" in row]
    return line


def test_help_offers_only_formats_that_work():
    assert "yaml or json" in _format_help("plan") and "table" not in _format_help("plan")
    assert "table or json" in _format_help("validate") and "yaml" not in _format_help("validate")


@pytest.mark.parametrize(("command", "fmt"), [("plan", "table"), ("validate", "yaml")])
def test_a_format_the_help_does_not_offer_is_refused(command, fmt):
    result = runner.invoke(app, [command, "--format", fmt, str(ROOT / "topologies/embedded.yaml")])
    assert result.exit_code == 2


def test_status_of_an_unknown_lab_exits_4_listing_the_labs_here(tmp_path, monkeypatch):
    monkeypatch.setenv("STACKLAB_HOME", str(tmp_path))
    for lab in ("demo", "big"):
        (tmp_path / "labs" / lab).mkdir(parents=True)
    result = runner.invoke(app, ["status", "--lab", "nosuch"])
    assert result.exit_code == 4
    assert "no lab nosuch; labs here: big, demo" in " ".join(result.output.split())
    result = runner.invoke(app, ["status", "--lab", "dmeo", "--format", "json"])
    assert result.exit_code == 4
    assert "did you mean 'demo'?" in result.output


def test_status_on_an_empty_host_says_there_are_no_labs(tmp_path, monkeypatch):
    monkeypatch.setenv("STACKLAB_HOME", str(tmp_path))
    result = runner.invoke(app, ["status", "--lab", "nosuch"])
    assert result.exit_code == 4
    assert "labs here: none" in result.output


def test_every_parameter_of_the_lb_verbs_says_what_it_is():
    """`lab lb add-vip LB VIP PORT` once showed bare names; each parameter now has help."""
    group = typer.main.get_command(app).commands["lb"]
    for name in ("add-vip", "remove-vip", "add-backend", "remove-backend"):
        missing = [p.name for p in group.commands[name].params if not getattr(p, "help", None)]
        assert missing == [], f"lab lb {name}: no help for {missing}"


@pytest.mark.parametrize("verb", [["status"], ["plan"]])
def test_a_lab_saved_by_another_version_is_named_not_a_crash(tmp_path, monkeypatch, verb):
    """A plan.json this version cannot read: exit 4 with what to do, no "crashed"."""
    monkeypatch.setenv("STACKLAB_HOME", str(tmp_path))
    (tmp_path / "labs" / "oldlab").mkdir(parents=True)
    (tmp_path / "labs" / "oldlab" / "plan.json").write_text('{"lab": "oldlab", "hosts": "not a list"}')
    result = runner.invoke(app, [*verb, "--lab", "oldlab"])
    assert result.exit_code == 4, result.output
    assert "another version of stacklab" in result.output and "crashed" not in result.output
    assert "lab down --lab oldlab" in result.output
