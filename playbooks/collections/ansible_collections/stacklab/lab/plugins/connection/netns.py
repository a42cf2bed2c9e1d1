# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a host's modules inside a network namespace on the controller.

The embedded lab's servers and ToR are network namespaces on one machine. With
this connection the production roles run against them unchanged: every command
Ansible would run over SSH is run under ``nsenter --net=/run/netns/NAME``, so
netlink, nftables and ``/proc/sys/net`` calls act on the namespace. Files stay
on the controller's filesystem (only the network namespace differs), which is
why roles take their file paths from variables.
"""

from __future__ import annotations

DOCUMENTATION = """
    name: netns
    short_description: Execute modules inside a named network namespace
    description:
        - Runs every command of a host under C(nsenter --net=/run/netns/NAME) on the controller.
        - Filesystem, users and services are the controller's; only the network namespace differs.
    author: stacklab
    version_added: "0.1.0"
    options:
        netns:
            description:
                - Name of the network namespace (a file under C(netns_dir)).
                - Defaults to the host's address (C(ansible_host)), else the inventory name.
            type: str
            vars:
                - name: ansible_netns_name
                - name: ansible_host
        netns_dir:
            description: Directory holding named network namespaces.
            type: str
            default: /run/netns
            vars:
                - name: ansible_netns_dir
        nsenter:
            description: Path of the nsenter executable (util-linux).
            type: str
            default: /usr/bin/nsenter
            vars:
                - name: ansible_netns_nsenter
        become_success_timeout:
            description: Seconds to wait for become to succeed.
            type: int
            default: 10
            vars:
                - name: ansible_local_become_success_timeout
        become_strip_preamble:
            description: Strip internal become output preceding command execution.
            type: bool
            default: true
            vars:
                - name: ansible_local_become_strip_preamble
    extends_documentation_fragment:
        - connection_pipelining
    notes:
        - Needs root on the controller (nsenter into a namespace needs CAP_SYS_ADMIN).
"""

import os
import shlex

from ansible.errors import AnsibleConnectionFailure
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.connection.local import Connection as LocalConnection
from ansible.utils.display import Display

display = Display()


class Connection(LocalConnection):
    """The local connection, with every command entered into a namespace."""

    transport = "stacklab.lab.netns"
    has_pipelining = True

    def _netns_path(self) -> str:
        name = self.get_option("netns") or self._play_context.remote_addr
        if not name or "/" in name or name in (".", ".."):
            raise AnsibleConnectionFailure(f"invalid network namespace name {name!r}")
        return os.path.join(self.get_option("netns_dir"), name)

    def _connect(self) -> Connection:
        path = self._netns_path()
        if not os.path.exists(path):
            raise AnsibleConnectionFailure(
                f"network namespace {os.path.basename(path)!r} does not exist ({path} missing)"
            )
        return super()._connect()

    def exec_command(self, cmd, in_data=None, sudoable=True):
        """Wrap the command the local plugin would run in nsenter --net."""
        wrapped = " ".join(
            [
                shlex.quote(self.get_option("nsenter")),
                shlex.quote(f"--net={self._netns_path()}"),
                "--",
                "/bin/sh",
                "-c",
                shlex.quote(to_text(cmd)),
            ]
        )
        display.vvv(f"NETNS {self._netns_path()}", host=self._play_context.remote_addr)
        return super().exec_command(wrapped, in_data=in_data, sudoable=sudoable)
