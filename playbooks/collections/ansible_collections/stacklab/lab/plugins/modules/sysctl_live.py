#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Set runtime sysctls through /proc/sys, changing only what differs."""

from __future__ import annotations

DOCUMENTATION = r"""
module: sysctl_live
short_description: Set runtime kernel parameters through /proc/sys
description:
  - Writes only the keys whose value differs. C(net.*) keys are per network namespace.
  - With O(persist), the O(values) are also kept in that file (for C(/etc/sysctl.d)), in the
    same call (a separate template task would cost the host two more Python starts per run).
version_added: "0.1.0"
author: stacklab
options:
  values:
    description: Dotted sysctl key to wanted value.
    type: dict
    default: {}
  paths:
    description:
      - Absolute path under C(/sys) or C(/proc/sys) to wanted value (e.g. driver knobs such as ECN).
    type: dict
    default: {}
  persist:
    description: File (e.g. C(/etc/sysctl.d/60-lab.conf)) that keeps O(values) for the next boot.
    type: path
  persist_header:
    description: Comment line written at the top of O(persist).
    type: str
    default: Managed by stacklab
extends_documentation_fragment:
  - stacklab.lab.attributes
"""

EXAMPLES = r"""
- name: Hugepages
  stacklab.lab.sysctl_live:
    values:
      vm.nr_hugepages: 512
    persist: /etc/sysctl.d/60-stacklab-kvm.conf
"""

RETURN = r"""
changed_keys:
  description: Keys whose value was (or would be) changed.
  returned: always
  type: list
  elements: str
persisted:
  description: Whether O(persist) was (or would be) rewritten.
  returned: always
  type: bool
"""

import os

from ansible.module_utils.basic import AnsibleModule


def _path(key):
    if key.startswith("/"):
        return key
    return os.path.join("/proc/sys", *key.split("."))


def _read(key):
    with open(_path(key), encoding="ascii") as handle:
        return " ".join(handle.read().split())


def _persist(module, path, values):
    """Keep `values` in a sysctl.d file; returns (changed, before, after) for the diff."""
    lines = [f"# {module.params['persist_header']}"]
    lines += [f"{key} = {values[key]}" for key in sorted(values)]
    after = "\n".join(lines) + "\n"
    try:
        with open(path, encoding="utf-8") as handle:
            before = handle.read()
    except FileNotFoundError:
        before = ""
    if before != after and not module.check_mode:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.stacklab-tmp"
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(after)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    return before != after, before, after


def main():
    module = AnsibleModule(
        argument_spec={
            "values": {"type": "dict", "default": {}},
            "paths": {"type": "dict", "default": {}},
            "persist": {"type": "path"},
            "persist_header": {"type": "str", "default": "Managed by stacklab"},
        },
        supports_check_mode=True,
    )
    wanted = {str(k): " ".join(str(v).split()) for k, v in module.params["values"].items()}
    for path, value in module.params["paths"].items():
        if not str(path).startswith(("/sys/", "/proc/sys/")):
            module.fail_json(msg=f"{path}: only paths under /sys or /proc/sys are allowed")
        wanted[str(path)] = " ".join(str(value).split())
    missing = sorted(k for k in wanted if not os.path.exists(_path(k)))
    if missing:
        module.fail_json(msg="unknown sysctl keys: " + ", ".join(missing))
    before = {k: _read(k) for k in wanted}
    todo = {k: v for k, v in wanted.items() if before[k] != v}
    if not module.check_mode:
        for key, value in sorted(todo.items()):
            with open(_path(key), "w", encoding="ascii") as handle:
                handle.write(value)
        unmet = sorted(k for k in todo if _read(k) != todo[k])
        if unmet:
            module.fail_json(msg="kernel did not take: " + ", ".join(
                f"{k}={todo[k]} (now {_read(k)})" for k in unmet))
    diff = [{
        "before": "".join(f"{k} = {before[k]}\n" for k in sorted(todo)),
        "after": "".join(f"{k} = {todo[k]}\n" for k in sorted(todo)),
    }]
    persisted = False
    if module.params["persist"]:
        values = {str(k): " ".join(str(v).split()) for k, v in module.params["values"].items()}
        persisted, file_before, file_after = _persist(module, module.params["persist"], values)
        diff.append({"before_header": module.params["persist"], "after_header": module.params["persist"],
                     "before": file_before, "after": file_after})
    module.exit_json(changed=bool(todo) or persisted, changed_keys=sorted(todo), persisted=persisted,
                     diff=diff)


if __name__ == "__main__":
    main()
