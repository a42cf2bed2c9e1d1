"""The ansible provider behind lab.providers.Provider: the playbooks run
against the real servers of an inventory, with the plan the CLI built."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from lab.model.topology import Topology
from lab.paths import lab_dir
from lab.plan.model import Plan
from lab.plan.planner import build_plan
from lab.providers.ansible import last_run
from lab.providers.ansible.driver import deprovision, provision
from lab.providers.ansible.results import RunResult
from lab.providers.base import Progress, quiet


@dataclass
class AnsibleProvider:
    """Raises lab.providers.ansible.driver.ProvisionError when preflight finds
    problems (nothing was changed); a failed host is a result."""

    topology: Topology | None
    inventory: Path | None
    vault_password_file: Path | None = None
    console: Console | None = None
    name: str = "ansible"
    local: bool = False

    def _inventory(self) -> Path:
        if self.inventory is None:
            raise ValueError("the ansible provider needs an inventory")
        return self.inventory

    def up(self, plan: Plan, dry_run: bool = False, progress: Progress = quiet) -> RunResult:
        return provision(plan, self._inventory(), lab_dir(plan.lab) / "ansible",
                         vault_password_file=self.vault_password_file, console=self.console,
                         check=dry_run, diff=dry_run)

    def saved_plan(self, lab: str) -> Plan | None:
        """The plan the lab's hosts were last provisioned with from here."""
        return last_run.load_plan(lab_dir(lab) / "ansible")

    def down(self, lab: str, progress: Progress = quiet) -> RunResult:
        """Cleans the hosts of the plan they were provisioned with from here,
        else of the topology's plan."""
        plan = self.saved_plan(lab) or (build_plan(self.topology) if self.topology else None)
        if plan is None:
            raise ValueError(f"lab {lab} was not provisioned from here: give its topology file")
        return deprovision(plan, self._inventory(), lab_dir(lab) / "ansible",
                           vault_password_file=self.vault_password_file, console=self.console,
                           check=False, diff=False)

    def status(self, lab: str) -> dict[str, Any]:
        """Only what this machine knows: whether the lab was provisioned from
        here and, once a run has finished, how it went on each host
        (`last_run`: action, playbook, ended, check_mode, rc, succeeded,
        hosts: name -> ok/changed/failed/unreachable, artifact_dir)."""
        state = lab_dir(lab) / "ansible"
        run = last_run.load(state)
        cleaned = run is not None and run["action"] == "down" and run["succeeded"] and not run["check_mode"]
        status = {"lab": lab, "provider": self.name,
                  "state": "provisioned" if state.exists() and not cleaned else "down", "state_dir": str(state)}
        return {**status, "last_run": run} if run else status
