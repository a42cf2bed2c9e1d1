"""`lab --help` starts without the heavy libraries (the 0.5 s target is
measured by `lab bench cli`, against `python -c pass`, not asserted here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.fabric.helpers import ROOT, lab_cli

HEAVY = ("scipy", "numpy", "pyroute2", "pydantic", "libvirt", "scapy", "jinja2")
PROBE = """
import sys
from typer.testing import CliRunner
from lab.cli import app
result = CliRunner().invoke(app, {argv!r})
assert result.exit_code == 0, result.output
print(sorted(m for m in {heavy!r} if m in sys.modules))
"""


def _loaded(argv: list[str]) -> list[str]:
    code = PROBE.format(argv=argv, heavy=HEAVY)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          cwd=ROOT, timeout=60)
    return eval(proc.stdout.strip())  # noqa: S307 - our own probe's list literal


def test_help_imports_none_of_the_heavy_libraries():
    assert _loaded(["--help"]) == []
    # a verb's own help: typer's parameter adapters bring pydantic, nothing else heavy
    assert set(_loaded(["verify", "--help"])) <= {"pydantic"}


def test_validate_needs_pydantic_but_not_scipy_or_pyroute2():
    loaded = _loaded(["validate", str(ROOT / "topologies" / "minimal.yaml")])
    assert "pydantic" in loaded and not {"scipy", "numpy", "pyroute2", "libvirt"} & set(loaded)


def test_bench_cli_reports_each_command_against_the_python_baseline():
    proc = lab_cli("bench", "cli", "--runs", "1", "--format", "json", check=False, timeout=120)
    assert proc.returncode in (0, 1), proc.stderr  # 1: slower than the target on this machine
    data = json.loads(proc.stdout)
    assert [c["command"] for c in data["commands"]] == ["python -c pass", "lab --help", "lab validate",
                                                        "lab --help (script)", "lab <TAB> (completion)"]
    assert data["script"] == str(Path(sys.executable).with_name("lab"))
    assert all(c["ratio"] > 0 and c["cpu_s"] > 0 for c in data["commands"]) and data["baseline_s"] > 0
    assert data["ok"] == (proc.returncode == 0) == all(c["ok"] for c in data["commands"])
