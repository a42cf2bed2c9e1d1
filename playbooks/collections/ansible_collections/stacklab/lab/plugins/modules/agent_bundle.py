#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Install the stacklab bundle into a venv, offline, in one call.

One module instead of a chain of tasks (Python check, unpack, venv, pip,
link, prune): each task is a Python start on the host, and pip itself is
the slowest of them. pip only runs when the venv lacks a pinned version.
"""

from __future__ import annotations

DOCUMENTATION = r"""
module: agent_bundle
short_description: Install the stacklab bundle (wheels + collectors) into a venv, offline
description:
  - Checks that the host's Python matches the wheels' CPython tag, unpacks O(bundle) (a tar
    with C(wheels/requirements.txt) and C(collectors/)) into O(release), creates the venv
    with the same Python, installs the pinned wheels with pip C(--no-index) when the venv
    does not already hold exactly those versions, links O(collectors) to the release's
    collectors and removes the other releases next to O(release).
version_added: "0.3.0"
author: stacklab
options:
  bundle:
    description: The bundle tar on the host.
    type: path
    required: true
  release:
    description: Directory of this release (the bundle is unpacked there).
    type: path
    required: true
  venv:
    description: The venv stacklab is installed into.
    type: path
    required: true
  collectors:
    description: Link pointing at the release's collectors.
    type: path
    required: true
  python_tag:
    description: CPython tag the wheels were built for (e.g. cp311).
    type: str
    required: true
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
"""

EXAMPLES = r"""
- name: Install stacklab from the bundle
  stacklab.lab.agent_bundle:
    bundle: /opt/stacklab/releases/0.1.0+s1a2b3c4d/bundle.tar
    release: /opt/stacklab/releases/0.1.0+s1a2b3c4d
    venv: /opt/stacklab/venv
    collectors: /opt/stacklab/collectors
    python_tag: cp311
"""

RETURN = r"""
actions:
  description: What was (or would be) done, in order.
  returned: always
  type: list
  elements: str
"""

import glob
import os
import re
import shutil
import sys
import tarfile

from ansible.module_utils.basic import AnsibleModule

REQUIREMENTS = "wheels/requirements.txt"


def _canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def _installed(venv):
    """canonical name -> version of every distribution in the venv (read from METADATA)."""
    found = {}
    for meta in glob.glob(os.path.join(venv, "lib", "python3*", "site-packages", "*.dist-info", "METADATA")):
        fields = {}
        with open(meta, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if not line.strip():
                    break
                key, _, value = line.partition(":")
                fields.setdefault(key.strip(), value.strip())
        if "Name" in fields and "Version" in fields:
            found[_canonical(fields["Name"])] = fields["Version"]
    return found


def _pins(release):
    with open(os.path.join(release, REQUIREMENTS), encoding="ascii") as handle:
        pairs = [line.strip().split("==", 1) for line in handle if "==" in line]
    return {_canonical(name): version for name, version in pairs}


def _unpack(module, bundle, release):
    with tarfile.open(bundle) as tar:
        for member in tar.getmembers():
            if member.name.startswith("/") or ".." in member.name.split("/") or not (member.isfile() or member.isdir()):
                module.fail_json(msg=f"{bundle}: unexpected member {member.name!r}")
        tar.extractall(release)


def _install(module, params, actions):
    release, venv = params["release"], params["venv"]
    if not os.path.exists(os.path.join(release, REQUIREMENTS)):
        actions.append(f"unpack {params['bundle']}")
        if not module.check_mode:
            _unpack(module, params["bundle"], release)
    if not os.path.exists(os.path.join(venv, "bin", "python")):
        actions.append(f"create the venv {venv}")
        if not module.check_mode:
            module.run_command([sys.executable, "-m", "venv", "--without-pip", venv], check_rc=True)
    pins = _pins(release) if os.path.exists(os.path.join(release, REQUIREMENTS)) else None
    installed = _installed(venv)
    if pins is None or any(installed.get(name) != version for name, version in pins.items()):
        actions.append("pip install the bundle's wheels, offline")
        if not module.check_mode:
            module.run_command([sys.executable, "-m", "pip", "--python", os.path.join(venv, "bin", "python"),
                                "--disable-pip-version-check", "install", "--no-index", "--no-deps",
                                "--no-compile", "--find-links", os.path.join(release, "wheels"),
                                "--requirement", os.path.join(release, REQUIREMENTS)], check_rc=True)


def _link_and_prune(module, params, actions):
    target = os.path.join(params["release"], "collectors")
    link = params["collectors"]
    if not (os.path.islink(link) and os.readlink(link) == target):
        actions.append(f"link {link} -> {target}")
        if not module.check_mode:
            if os.path.isdir(link) and not os.path.islink(link):
                shutil.rmtree(link)
            elif os.path.lexists(link):
                os.unlink(link)
            os.symlink(target, link)
    releases = os.path.dirname(params["release"])
    for other in sorted(os.listdir(releases)) if os.path.isdir(releases) else []:
        path = os.path.join(releases, other)
        if path != params["release"] and os.path.isdir(path) and not os.path.islink(path):
            actions.append(f"remove the older release {other}")
            if not module.check_mode:
                shutil.rmtree(path)


def main():
    module = AnsibleModule(
        argument_spec={
            "bundle": {"type": "path", "required": True},
            "release": {"type": "path", "required": True},
            "venv": {"type": "path", "required": True},
            "collectors": {"type": "path", "required": True},
            "python_tag": {"type": "str", "required": True},
        },
        supports_check_mode=True,
    )
    params = module.params
    host_tag = f"cp{sys.version_info[0]}{sys.version_info[1]}"
    if host_tag != params["python_tag"]:
        module.fail_json(msg=f"this host's python3 is {host_tag} but the stacklab wheels were built for "
                             f"{params['python_tag']}; run lab up from a controller with the hosts' Python "
                             "version (Debian 12: 3.11)")
    actions = []
    _install(module, params, actions)
    _link_and_prune(module, params, actions)
    module.exit_json(changed=bool(actions), actions=actions)


if __name__ == "__main__":
    main()
