"""Provisioning real servers with Ansible: inventory and host_vars generated
from the topology and plan, the playbooks under ``playbooks/`` run through
ansible-runner with live per-host progress, and per-host results.

Entry points (the CLI wires them to ``lab up/down --provider ansible``):
:func:`lab.providers.ansible.driver.provision` and
:func:`lab.providers.ansible.driver.deprovision`.
"""

from lab.providers.ansible.driver import ProvisionError, deprovision, preflight, provision
from lab.providers.ansible.results import HostResult, RunResult

__all__ = ["HostResult", "ProvisionError", "RunResult", "deprovision", "preflight", "provision"]
