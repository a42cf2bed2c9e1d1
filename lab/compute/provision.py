"""Provisioning state of a VM (the CustomScript extension's outcome).

A non-zero exit of the provisioning script marks the VM `failed` with the exit
code and the output's tail, as Azure reports VMExtensionProvisioningError; it is
kept in the lab directory for `lab status` and retried on the next `lab up`.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

from lab.compute import paths
from lab.compute.agent import AgentError, run_command

OUTPUT_TAIL = 4096
SCRIPT_TIMEOUT_S = 300.0


def script_digest(script: str) -> str:
    return hashlib.sha256(script.encode()).hexdigest()[:16]


def read_state(lab_dir: Path, vm: str) -> dict:
    try:
        return json.loads(paths.provision_file(lab_dir, vm).read_text())
    except (OSError, ValueError):
        return {"state": "unknown"}


def write_state(lab_dir: Path, vm: str, state: dict) -> None:
    target = paths.provision_file(lab_dir, vm)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(json.dumps(state, indent=2))
    os.replace(tmp, target)


def needs_run(lab_dir: Path, vm: str, script: str | None) -> bool:
    """A script runs once per content: again only after a change or a failure."""
    if not script:
        return False
    state = read_state(lab_dir, vm)
    return not (state.get("state") == "succeeded" and state.get("script") == script_digest(script))


def provision(lab_dir: Path, vm: str, script: str | None,
              timeout_s: float = SCRIPT_TIMEOUT_S) -> dict:
    """Run the VM's provisioning script through the agent; record and return the state."""
    if not script:
        state = {"state": "succeeded", "exit_code": None, "output": "", "script": None,
                 "note": "no provisioning script"}
        write_state(lab_dir, vm, state)
        return state
    write_state(lab_dir, vm, {"state": "running", "script": script_digest(script),
                              "started": time.time()})
    try:
        result = run_command(paths.agent_socket(lab_dir, vm), script, timeout_s)
        state = {"state": "succeeded" if result.ok else "failed", "exit_code": result.exit_code,
                 "output": result.output[-OUTPUT_TAIL:], "duration_s": round(result.duration_s, 2)}
    except AgentError as exc:
        state = {"state": "failed", "exit_code": None, "output": str(exc)}
    state.update(script=script_digest(script), finished=time.time())
    if state["state"] == "failed":
        state["error"] = ("VMExtensionProvisioningError: provisioning script exited "
                          f"{state['exit_code']}")
    write_state(lab_dir, vm, state)
    return state
