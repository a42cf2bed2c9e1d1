"""The providers: what turns a plan into a running lab, behind one interface.

`embedded` builds the whole lab on this machine (namespaces stand in for
servers and the ToR, libvirt guests are real VMs); `ansible` provisions real
servers with the playbooks, each host applying its part of the plan with
the embedded provider's phases (`lab apply-host`). Both take the plan; what
they return is their own report (`to_json()` for scripts).

Imports nothing at load: hosts import `lab.providers.ansible.agent` through
this package and have neither libvirt nor ansible-runner.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from lab.providers.base import Progress, Provider, quiet

if TYPE_CHECKING:
    from rich.console import Console

    from lab.model.topology import Topology

__all__ = ["NAMES", "Progress", "Provider", "quiet", "select"]
NAMES = ("embedded", "ansible")


def select(name: str, topology: Topology | None = None, inventory: Path | None = None,
           vault_password_file: Path | None = None, console: Console | None = None) -> Provider:
    """The provider called `name`; the ansible one provisions the topology's
    hosts from `inventory` (its playbooks report on `console`)."""
    if name == "embedded":
        from lab.providers.embedded_lab import EmbeddedProvider

        return EmbeddedProvider()
    if name == "ansible":
        from lab.providers.ansible.provider import AnsibleProvider

        return AnsibleProvider(topology, inventory, vault_password_file, console)
    raise ValueError(f"provider {name!r}: one of {', '.join(NAMES)}")
