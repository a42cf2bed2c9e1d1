"""What this machine knows of a lab on real servers, kept as small JSON files
in the run's state directory: the outcome of the last provision or
deprovision run from here, per host (the runner's artifacts rotate and mix
in other runs: preflight pings, log collection), and the plan the last
provision run started to apply (what `down --lab` cleans)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from lab.plan.model import Plan
from lab.providers.ansible.results import RunResult
from lab.providers.state import read_json, write_json

LAST_RUN = "last-run.json"
Action = Literal["up", "down"]


def save(state_dir: Path, action: Action, result: RunResult, check: bool) -> None:
    write_json(state_dir / LAST_RUN, {
        "action": action,
        "playbook": result.playbook,
        "ended": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "check_mode": check,
        "rc": result.rc,
        "succeeded": result.succeeded,
        "hosts": {name: r.status for name, r in sorted(result.hosts.items())},
        "artifact_dir": result.artifact_dir,
    })


def load(state_dir: Path) -> dict[str, Any] | None:
    """The last run's summary, or None when no run from here has finished."""
    data = read_json(state_dir / LAST_RUN)
    return data if isinstance(data, dict) else None


SAVED_PLAN = "plan.json"


def save_plan(state_dir: Path, plan: Plan) -> None:
    """The plan a provision run is about to apply (after preflight passed):
    `down --lab` cleans its hosts even if the run dies half way."""
    write_json(state_dir / SAVED_PLAN, plan.model_dump(mode="json"))


def load_plan(state_dir: Path) -> Plan | None:
    """The plan the hosts were last provisioned with from here; None if none,
    or if another version wrote it (then the topology's plan is asked for)."""
    data = read_json(state_dir / SAVED_PLAN)
    try:
        return Plan.model_validate(data) if isinstance(data, dict) else None
    except ValidationError:
        return None
