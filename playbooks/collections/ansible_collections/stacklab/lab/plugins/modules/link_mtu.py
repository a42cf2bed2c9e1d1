#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Set interface MTUs through netlink, changing only what differs."""

from __future__ import annotations

DOCUMENTATION = r"""
module: link_mtu
short_description: Set the MTU of network interfaces through netlink
description:
  - Reads each interface's MTU with pyroute2 and changes only those that differ.
  - Works in the current network namespace (see the C(stacklab.lab.netns) connection).
version_added: "0.1.0"
author: stacklab
options:
  mtus:
    description: Interface name to wanted MTU.
    type: dict
    required: true
  missing:
    description: What to do when a listed interface does not exist.
    type: str
    choices: [fail, ignore]
    default: fail
requirements:
  - pyroute2 (Debian package python3-pyroute2)
extends_documentation_fragment:
  - stacklab.lab.attributes
"""

EXAMPLES = r"""
- name: Underlay MTU
  stacklab.lab.link_mtu:
    mtus:
      eth0: 9000
"""

RETURN = r"""
changed_links:
  description: Interfaces whose MTU was (or would be) changed.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

try:
    from pyroute2 import IPRoute
except ImportError:  # pragma: no cover - reported by the module
    IPRoute = None


def _current_mtus(ipr, names):
    found = {}
    for name in names:
        idx = ipr.link_lookup(ifname=name)
        if idx:
            found[name] = (idx[0], ipr.get_links(idx[0])[0].get_attr("IFLA_MTU"))
    return found


def main():
    module = AnsibleModule(
        argument_spec={
            "mtus": {"type": "dict", "required": True},
            "missing": {"type": "str", "choices": ["fail", "ignore"], "default": "fail"},
        },
        supports_check_mode=True,
    )
    if IPRoute is None:
        module.fail_json(msg="pyroute2 is needed on the target (apt install python3-pyroute2)")
    wanted = {str(k): int(v) for k, v in module.params["mtus"].items()}
    with IPRoute() as ipr:
        current = _current_mtus(ipr, wanted)
        absent = sorted(set(wanted) - set(current))
        if absent and module.params["missing"] == "fail":
            module.fail_json(msg="interfaces not found: " + ", ".join(absent), missing=absent)
        todo = {n: m for n, m in wanted.items() if n in current and current[n][1] != m}
        if todo and not module.check_mode:
            for name, mtu in sorted(todo.items()):
                ipr.link("set", index=current[name][0], mtu=mtu)
    diff = {
        "before": "".join(f"{n} mtu {current[n][1]}\n" for n in sorted(todo)),
        "after": "".join(f"{n} mtu {m}\n" for n, m in sorted(todo.items())),
    }
    module.exit_json(changed=bool(todo), changed_links=sorted(todo), diff=diff)


if __name__ == "__main__":
    main()
