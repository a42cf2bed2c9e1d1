"""`lab validate` through the real CLI (typer's CliRunner)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from lab.cli import app

from .helpers import EMBEDDED, mutate

runner = CliRunner()


def _flat(text: str) -> str:
    """Undo rich's line wrapping so message fragments can be searched."""
    return " ".join(text.split())


def _bad_file(tmp_path, lines: dict[str, int] | None = None):
    """Three problems; `lines` receives the line of each mutated path."""
    lines = {} if lines is None else lines
    text, lines["tenants[1].vni"] = mutate("vni: 1002", "vni: 1001")
    text, lines["vms[2].server"] = mutate("server: hv3", "server: hv9", text)
    text, lines["underlay.mtu"] = mutate("mtu: 9000", "mtu: jumbo", text)
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    return path


def test_validate_default_topology_exits_0():
    result = runner.invoke(app, ["validate", str(EMBEDDED)])
    assert result.exit_code == 0, result.output
    assert "valid" in result.output


def test_validate_bad_file_exits_2_with_every_message(tmp_path):
    result = runner.invoke(app, ["validate", str(_bad_file(tmp_path))])
    assert result.exit_code == 2
    out = _flat(result.output)
    assert "3 problem(s)" in out
    assert "underlay.mtu: 'jumbo' is not valid: expected a whole number" in out
    assert "tenants[1].vni: duplicate VNI 1001" in out
    assert "vms[2].server: unknown server 'hv9'" in out
    assert "Traceback" not in result.output


def test_validate_json_lists_path_line_and_message(tmp_path):
    lines: dict[str, int] = {}
    result = runner.invoke(app, ["validate", "--format", "json", str(_bad_file(tmp_path, lines))])
    assert result.exit_code == 2
    report = json.loads(result.stdout)
    assert report["valid"] is False
    assert all(set(e) == {"path", "line", "message"} for e in report["errors"])
    by_path = {e["path"]: e for e in report["errors"]}
    assert {path: e["line"] for path, e in by_path.items()} == lines
    assert "unknown server 'hv9'" in by_path["vms[2].server"]["message"]


def test_validate_json_on_valid_file():
    result = runner.invoke(app, ["validate", "--format", "json", str(EMBEDDED)])
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert report["valid"] is True and report["errors"] == []


def test_validate_missing_file_exits_2(tmp_path):
    result = runner.invoke(app, ["validate", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2
    assert "cannot read file" in _flat(result.output)


def test_validate_bad_format_exits_2():
    result = runner.invoke(app, ["validate", "--format", "xml", str(EMBEDDED)])
    assert result.exit_code == 2
    assert "not supported" in _flat(result.output)


def test_yaml_syntax_error_names_the_file_line_and_column(tmp_path):
    text, line = mutate("tenants:\n", "tenants: [\n")
    path = tmp_path / "broken.yaml"
    path.write_text(text)
    result = runner.invoke(app, ["validate", "--format", "json", str(path)])
    assert result.exit_code == 2
    (error,) = json.loads(result.stdout)["errors"]
    assert f"({path}, line {error['line']}, column " in error["message"]
    assert error["line"] > line and "<unicode string>" not in error["message"]
    assert "\n" not in error["message"]


def test_unreadable_characters_name_the_file(tmp_path):
    path = tmp_path / "ctrl.yaml"
    path.write_text("name: \"x\x01\"\n")
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert str(path) in _flat(result.output) and "<unicode string>" not in result.output
