"""Bad input caught before anything changes on a host.

Inventory hosts must be exactly the topology's ToR and servers; an encrypted
inventory needs a vault password; every host must answer a ping. Each check
returns problems as sentences, so a user sees all of them at once.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import ansible_runner

from lab.providers.ansible.results import EventCollector

VAULT_MARKERS = (b"$ANSIBLE_VAULT;", b"!vault")


def inventory_files(inventory: Path) -> list[Path]:
    """The inventory and the group_vars/host_vars next to it, as Ansible reads them."""
    roots = [inventory] if inventory.is_dir() else [inventory, inventory.parent / "group_vars",
                                                     inventory.parent / "host_vars"]
    files: list[Path] = []
    for root in roots:
        if root.is_file():
            files.append(root)
        elif root.is_dir():
            files += sorted(p for p in root.rglob("*") if p.is_file())
    return files


def vault_problems(inventory: Path, vault_password_file: Path | None) -> list[str]:
    encrypted = [p for p in inventory_files(inventory)
                 if any(m in p.read_bytes() for m in VAULT_MARKERS)]
    if vault_password_file is not None and not vault_password_file.is_file():
        return [f"vault password file {vault_password_file} does not exist"]
    if encrypted and vault_password_file is None:
        names = ", ".join(str(p) for p in encrypted)
        return [(f"the inventory holds vault-encrypted data ({names}) but no vault password was "
                "given: pass --vault-password-file FILE (or set ANSIBLE_VAULT_PASSWORD_FILE)")]
    return []


def vault_password_from_env() -> Path | None:
    value = os.environ.get("ANSIBLE_VAULT_PASSWORD_FILE")
    return Path(value) if value else None


def read_inventory_hosts(inventories: list[Path], vault_password_file: Path | None,
                         envvars: dict[str, str]) -> tuple[set[str], list[str]]:
    """Host names Ansible sees in the inventories, or the error it gave."""
    vault = str(vault_password_file) if vault_password_file else None
    # ansible-runner would make (and keep) a /tmp/.ansible-runner-* directory per call
    with tempfile.TemporaryDirectory(prefix="stacklab-inventory-") as private_dir:
        out, err = ansible_runner.get_inventory(
            action="list", inventories=[str(i) for i in inventories], response_format="json",
            vault_password_file=vault, envvars=envvars, quiet=True, private_data_dir=private_dir)
    if not isinstance(out, dict):
        text = " ".join(str(err or out).split())
        return set(), [f"ansible-inventory could not read {', '.join(map(str, inventories))}: {text}"]
    hosts = set((out.get("_meta") or {}).get("hostvars") or {})
    for group, body in out.items():
        if group != "_meta" and isinstance(body, dict):
            hosts.update(body.get("hosts") or [])
    return hosts, []


def unreachable_problems(private_dir: Path, inventories: list[Path], hosts: set[str],
                         vault_password_file: Path | None, envvars: dict[str, str]) -> list[str]:
    """Ping every host (ansible.builtin.ping changes nothing); report those that do not answer."""
    collector = EventCollector()
    cmdline = f"--vault-password-file {vault_password_file}" if vault_password_file else None
    runner = ansible_runner.run(
        private_data_dir=str(private_dir), ident="preflight-ping", module="ansible.builtin.ping",
        host_pattern=",".join(sorted(hosts)), inventory=[str(i) for i in inventories],
        envvars=envvars, cmdline=cmdline, quiet=True, event_handler=collector)
    problems = [
        f"host '{name}' is unreachable: {r.failures[-1].message if r.failures else 'no answer'}"
        for name, r in sorted(collector.hosts.items()) if r.status in ("unreachable", "failed")
    ]
    silent = hosts - set(collector.hosts)
    if silent and runner.rc != 0:
        problems.append(f"ping of {', '.join(sorted(silent))} did not run (ansible rc {runner.rc}): "
                        f"{_last_lines(runner)}")
    return problems


def _last_lines(runner) -> str:
    try:
        text = runner.stdout.read()
    except (OSError, ValueError):
        return ""
    return " ".join(text.split())[-300:]

