"""Run the stacklab playbooks against real hosts through ansible-runner.

`provision` = preflight (bad input, unreachable hosts, vault) then site.yml;
nothing on a host changes before every preflight check has passed.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import ansible_runner
from rich.console import Console

from lab.plan.model import Plan
from lab.providers.ansible import last_run
from lab.providers.ansible import preflight as checks
from lab.providers.ansible.inventory import DEFAULT_TOR_UNDERLAY_IF, host_problems, write_inventory
from lab.providers.ansible.progress import live_progress, summary_table
from lab.providers.ansible.results import RunResult
from lab.providers.ansible.wheelhouse import Wheelhouse, WheelhouseError
from lab.providers.ansible.wheelhouse import build as build_bundle

PLAYBOOKS = Path(os.environ.get("STACKLAB_PLAYBOOKS", Path(__file__).resolve().parents[3] / "playbooks"))


class ProvisionError(Exception):
    """Bad input found before any change; carries every problem found."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


def ansible_env() -> dict[str, str]:
    """Point Ansible at the project's config, roles and collection wherever it runs from.

    ansible-runner looks its executables up on PATH; a venv that is not
    activated still has them next to the interpreter.
    """
    bindir = str(Path(sys.executable).parent)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
    return {
        "ANSIBLE_CONFIG": str(PLAYBOOKS / "ansible.cfg"),
        "ANSIBLE_ROLES_PATH": str(PLAYBOOKS / "roles"),
        "ANSIBLE_COLLECTIONS_PATH": str(PLAYBOOKS / "collections"),
        "ANSIBLE_NOCOLOR": "1",
    }


def preflight(plan: Plan, inventory: Path, state_dir: Path,
              vault_password_file: Path | None = None, ping: bool = True,
              tor_underlay_if: str = DEFAULT_TOR_UNDERLAY_IF) -> list[Path]:
    """Check the input and return the inventories to run with; raise ProvisionError if bad."""
    vault = vault_password_file or checks.vault_password_from_env()
    if not inventory.exists():
        raise ProvisionError([f"inventory {inventory} does not exist"])
    problems = checks.vault_problems(inventory, vault)
    if problems:
        raise ProvisionError(problems)
    envvars = ansible_env()
    hosts, problems = checks.read_inventory_hosts([inventory], vault, envvars)
    problems += host_problems(plan, hosts) if not problems else []
    if problems:
        raise ProvisionError(problems)
    generated = write_inventory(plan, state_dir / "inventory", tor_underlay_if)
    inventories = [inventory, generated]
    if ping:
        problems = checks.unreachable_problems(state_dir, inventories, hosts, vault, envvars)
        if problems:
            raise ProvisionError(problems)
    return inventories


def run_playbook(playbook: str, inventories: list[Path], state_dir: Path,
                 vault_password_file: Path | None = None, tags: list[str] | None = None,
                 skip_tags: list[str] | None = None, limit: str | None = None,
                 check: bool = False, diff: bool = False, extravars: dict[str, Any] | None = None,
                 console: Console | None = None) -> RunResult:
    """One ansible-playbook run; per-host results from the runner's events (never raises on a host)."""
    vault = vault_password_file or checks.vault_password_from_env()
    flags = (["--check"] if check else []) + (["--diff"] if diff else [])
    flags += ["--vault-password-file", str(vault)] if vault else []
    # ansible-runner keeps inputs (extravars...) in <dir>/env across runs; each run
    # passes all of its own, so a previous run's must not leak into this one
    shutil.rmtree(state_dir / "env", ignore_errors=True)
    state_dir.mkdir(parents=True, exist_ok=True)
    ident = f"{Path(playbook).stem}-{time.strftime('%Y%m%dT%H%M%S')}-{time.monotonic_ns() % 10**6}"
    with live_progress(f"ansible {playbook}", console) as collector:
        runner = ansible_runner.run(
            private_data_dir=str(state_dir), ident=ident, project_dir=str(PLAYBOOKS),
            playbook=str(PLAYBOOKS / playbook), inventory=[str(i) for i in inventories],
            envvars=ansible_env(), extravars=extravars or {}, tags=",".join(tags or []) or None,
            skip_tags=",".join(skip_tags or []) or None, limit=limit,
            cmdline=" ".join(flags) or None, quiet=True, event_handler=collector,
            rotate_artifacts=20)
    result = RunResult(playbook, runner.rc, runner.status, str(runner.config.artifact_dir),
                       collector.hosts)
    if console is not None:
        console.print(summary_table(result))
    return result


def provision(plan: Plan, inventory: Path, state_dir: Path,
              vault_password_file: Path | None = None, console: Console | None = None,
              ping: bool = True, tor_underlay_if: str = DEFAULT_TOR_UNDERLAY_IF,
              bundle: bool | Wheelhouse = True, **run_options: Any) -> RunResult:
    """`lab up --provider ansible -i INVENTORY`: preflight, then site.yml on every host.

    The stacklab bundle the hosts install offline (lab_agent) is built from
    this checkout first (cached by its inputs); `bundle=False` skips it for
    targets that do not install stacklab; a Wheelhouse ships that one (a
    caller running twice ships the same bundle even if the checkout changes).
    """
    inventories = preflight(plan, inventory, state_dir, vault_password_file, ping, tor_underlay_if)
    if bundle:
        try:
            built = bundle if isinstance(bundle, Wheelhouse) else build_bundle()
        except WheelhouseError as exc:
            raise ProvisionError([f"could not build the stacklab bundle for the hosts: {exc}"]) from None
        run_options["extravars"] = {**built.extravars(), **(run_options.get("extravars") or {})}
    if not run_options.get("check"):
        last_run.save_plan(state_dir, plan)
    result = run_playbook("site.yml", inventories, state_dir, vault_password_file,
                          console=console, **run_options)
    last_run.save(state_dir, "up", result, bool(run_options.get("check")))
    return result


def deprovision(plan: Plan, inventory: Path, state_dir: Path,
                vault_password_file: Path | None = None, console: Console | None = None,
                ping: bool = True, **run_options: Any) -> RunResult:
    """`lab down --provider ansible`: remove the lab's state from the hosts (down.yml)."""
    inventories = preflight(plan, inventory, state_dir, vault_password_file, ping)
    result = run_playbook("down.yml", inventories, state_dir, vault_password_file,
                          console=console, **run_options)
    last_run.save(state_dir, "down", result, bool(run_options.get("check")))
    return result
