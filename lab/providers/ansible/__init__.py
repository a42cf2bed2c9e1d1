"""Provisioning real servers with Ansible: inventory and host_vars generated
from the plan, the playbooks under ``playbooks/`` run through
ansible-runner with live per-host progress, and per-host results.

Entry points (the CLI wires them to ``lab up/down --provider ansible``):
:func:`lab.providers.ansible.driver.provision` and
:func:`lab.providers.ansible.driver.deprovision`.

The exports load lazily: hosts import ``lab.providers.ansible.agent`` from
this package and have no ansible-runner.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ProvisionError": "lab.providers.ansible.driver",
    "deprovision": "lab.providers.ansible.driver",
    "preflight": "lab.providers.ansible.driver",
    "provision": "lab.providers.ansible.driver",
    "HostResult": "lab.providers.ansible.results",
    "RunResult": "lab.providers.ansible.results",
}
__all__ = ["HostResult", "ProvisionError", "RunResult", "deprovision", "preflight", "provision"]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
