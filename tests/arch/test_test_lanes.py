"""The lanes runner (scripts/run_tests.py) runs every test path exactly once."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _runner():
    spec = importlib.util.spec_from_file_location("run_tests", ROOT / "scripts" / "run_tests.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["run_tests"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_the_queue_holds_every_test_directory_but_the_leading_runs_once():
    runner = _runner()
    lead = [runner.VM_TESTS, "tests/lb", "tests/compute"]
    items = runner.queue_paths(lead)
    labels = [label for label, _ in items]
    assert len(labels) == len(set(labels))
    dirs = {str(p.relative_to(ROOT)) for p in (ROOT / "tests").iterdir()
            if p.is_dir() and p.name != "__pycache__"}
    assert set(labels) == dirs - {"tests/lb", "tests/compute"}
    ansible = dict(items)["tests/ansible"]
    assert ansible == ["tests/ansible", f"--ignore={runner.VM_TESTS}"]  # lane 2 runs the VM file
    assert labels[0] == runner.BY_COST[0]  # longest first
