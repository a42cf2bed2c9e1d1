"""Helpers shared by the load-balancer tests.

Tests that need root may skip only outside CI; with CI set they fail loudly.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest


def require_root(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    reason = ""
    if os.geteuid() != 0:
        reason = "needs root (BPF and namespaces)"
    elif missing:
        reason = f"needs {', '.join(missing)}"
    if not reason:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must run it")
    pytest.skip(reason)


@contextmanager
def running_lab(topology: Path, lab: str, *tools: str, first_up: dict | None = None) -> Iterator[Any]:
    """The topology up in the embedded lab with its probe daemon stopped (the
    checks probe while they run, common.probing), torn down afterwards.
    `first_up` gets the dry run's and the real up's changes ("dry", "up")."""
    require_root(*tools)
    from lab.lb import lifecycle
    from lab.model import load_topology
    from lab.plan.planner import build_plan
    from lab.providers import embedded

    plan = build_plan(load_topology(topology))
    embedded.down(lab)
    try:
        dry = embedded.up(plan, dry_run=True)
        done = embedded.up(plan)  # fabric, port maps and (through the LB feature) every MUX
        if first_up is not None:
            first_up.update(dry=change_list(dry), up=change_list(done))
        lifecycle.stop_probes(lab)
        yield plan
    finally:
        embedded.down(lab)


def change_list(report: Any) -> list[dict]:
    """A report's changes as JSON, without what only applying finds out."""
    return [{k: v for k, v in c.to_json().items() if k != "outcome"} for c in report.changes]
