"""The Python API brings a real lab up, verifies it and takes it down:
topologies/minimal.yaml as lab `api`, in process and through the example
script of docs/api.md (so the documented script is known to work)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import stacklab
from lab.apply.netns import list_namespaces
from lab.paths import results_dir

ROOT = Path(__file__).resolve().parents[2]
LAB = "api"

pytestmark = pytest.mark.root


@pytest.fixture
def topology(tmp_path) -> Path:
    data = yaml.safe_load((ROOT / "topologies" / "minimal.yaml").read_text()) | {"name": LAB}
    path = tmp_path / f"{LAB}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    stacklab.down(LAB)  # a previous run's crash
    return path


def _no_residue() -> None:
    assert [ns for ns in list_namespaces() if ns.startswith(f"{LAB}.")] == []
    assert LAB not in stacklab.labs()
    with pytest.raises(stacklab.NoSuchLabError):
        stacklab.status(LAB)


def test_up_verify_down_through_the_api(topology):
    plan = stacklab.plan(stacklab.load(topology))
    try:
        planned = [c.to_json() | {"outcome": ""} for c in stacklab.up(plan, dry_run=True)]
        done = [c.to_json() | {"outcome": ""} for c in stacklab.up(plan)]  # outcome: what it became
        assert done == planned  # the dry run said exactly this
        assert stacklab.up(plan) == []  # idempotent
        status = stacklab.status(LAB)
        assert status["lab"] == LAB and all(h["health"] == "ok" for h in status["servers"])
        result = stacklab.verify(plan, only=["fabric"], progress=False)
        verdicts = {r.name: (r.verdict, r.evidence) for r in result.results}
        assert result.results and {r.group for r in result.results} == {"fabric"}
        assert result.exit_code == 0 and result.passed, verdicts
        assert result.run_id is not None and (result.run_dir / "junit.xml").exists()
    finally:
        removed = stacklab.down(LAB)
    assert f"netns {LAB}.hv1" in removed
    _no_residue()
    assert (results_dir(LAB) / "history.sqlite").exists()  # the run outlives the lab, as `lab verify`'s do


def test_the_documented_example_script_runs(topology, tmp_path):
    block = re.search(r"```python\n(.*?)```", (ROOT / "docs" / "api.md").read_text(), re.S)
    assert block, "docs/api.md has no python example"
    script = tmp_path / "example.py"
    script.write_text(block.group(1))
    done = subprocess.run([sys.executable, str(script), str(topology)], capture_output=True, text=True,
                          timeout=600, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"^up: \d+ changes; again: 0$", done.stdout, re.M), done.stdout
    assert re.search(r"^pass +\S", done.stdout, re.M) and "down: removed" in done.stdout
    _no_residue()
