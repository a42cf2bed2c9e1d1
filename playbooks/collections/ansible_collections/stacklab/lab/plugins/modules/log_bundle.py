#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A host's logs, kernel state and extra documents in one tar, for the controller to fetch."""

from __future__ import annotations

DOCUMENTATION = r"""
module: log_bundle
short_description: Bundle a host's logs and kernel state for stacklab's log collection
description:
  - Puts every file named by O(sources) (globs allowed) into one tar at O(dest), with its
    modification time, so the controller selects lines by time window (C(lab logs collect)).
  - Runs O(snapshot) (the host's stacklab bundle, C(python -m lab.ops.snapshot)) and keeps its
    JSON output as C(kernel.json); adds each of O(extra) (such as the BMC's inventory) as a document.
  - Masks every value of O(mask) in what it bundles before anything leaves the host.
  - Records in C(sources.json) what was taken and what was missing, and why.
  - Returns names and counts only, never file contents. Collecting changes nothing on the host
    but the bundle itself, so check mode collects too.
version_added: "0.3.0"
author: stacklab
options:
  sources:
    description: Files to take; C(name) is the file's name in the bundle (a directory for a glob).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Name in the bundle.
        type: str
        required: true
      path:
        description: Path or glob on the host.
        type: str
        required: true
  snapshot:
    description: Command printing the host's kernel state as JSON; none when empty.
    type: list
    elements: str
    default: []
  extra:
    description: Documents to add, name -> content.
    type: dict
    default: {}
  mask:
    description: Values never to let out (secrets), each replaced by C([REDACTED]).
    type: list
    elements: str
    default: []
    no_log: true
  max_bytes:
    description: Files larger than this are cut to their last O(max_bytes) bytes (the manifest says so).
    type: int
    default: 67108864
  dest:
    description: The tar to write on the host.
    type: path
    required: true
extends_documentation_fragment:
  - stacklab.lab.attributes.read_only
"""

EXAMPLES = r"""
- name: Bundle the host's logs
  stacklab.lab.log_bundle:
    sources:
      - {name: libvirtd.log, path: /var/log/libvirt/libvirtd.log}
      - {name: qemu, path: "/var/log/libvirt/qemu/*.log"}
    snapshot: [/opt/stacklab/venv/bin/python, -m, lab.ops.snapshot]
    dest: /tmp/stacklab-logs.tar
"""

RETURN = r"""
taken:
  description: Names of the files and documents in the bundle.
  returned: always
  type: list
missing:
  description: Sources not taken, each with C(name) and C(missing) (the reason).
  returned: always
  type: list
"""

import glob
import io
import json
import os
import subprocess
import tarfile
import time

from ansible.module_utils.basic import AnsibleModule

MASK = b"[REDACTED]"


def _masked(data, values):
    for value in values:
        data = data.replace(value, MASK)
    return data


def _add(tar, name, data, mtime):
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), int(mtime), 0o600
    tar.addfile(info, io.BytesIO(data))


def _files(source):
    paths = sorted(p for p in glob.glob(source["path"]) if os.path.isfile(p))
    if any(ch in source["path"] for ch in "*?["):
        return [(f"{source['name']}/{os.path.basename(p)}", p) for p in paths]
    return [(source["name"], p) for p in paths]


def _read(path, limit):
    size = os.path.getsize(path)
    with open(path, "rb") as handle:
        if size > limit:
            handle.seek(size - limit)
        return handle.read(), size > limit


def _snapshot(argv):
    done = subprocess.run(argv, capture_output=True, timeout=120, check=False)
    if done.returncode != 0:
        raise RuntimeError(done.stderr.decode(errors="replace").strip()[-300:] or f"exit {done.returncode}")
    json.loads(done.stdout)
    return done.stdout


def bundle(params):
    values = [v.encode() for v in params["mask"] if v]
    taken, missing = [], []
    with tarfile.open(params["dest"], "w") as tar:
        for source in params["sources"]:
            found = _files(source)
            if not found:
                missing.append({"name": source["name"], "source": source["path"], "missing": "no such file"})
            for name, path in found:
                try:
                    data, cut = _read(path, params["max_bytes"])
                except OSError as exc:
                    missing.append({"name": name, "source": path, "missing": f"unreadable: {exc.strerror}"})
                    continue
                _add(tar, f"files/{name}", _masked(data, values), os.path.getmtime(path))
                taken.append({"name": name, "source": path, **({"cut_to_last_bytes": params["max_bytes"]}
                                                              if cut else {})})
        if params["snapshot"]:
            try:
                _add(tar, "kernel.json", _masked(_snapshot(params["snapshot"]), values), time.time())
                taken.append({"name": "kernel.json", "source": " ".join(params["snapshot"])})
            except (OSError, ValueError, RuntimeError, subprocess.TimeoutExpired) as exc:
                missing.append({"name": "kernel.json", "missing": f"snapshot failed: {exc}"})
        for name, content in sorted(params["extra"].items()):
            text = content if isinstance(content, str) else json.dumps(content)
            _add(tar, f"extra/{name}", _masked(text.encode(), values), time.time())
            taken.append({"name": name, "source": "extra"})
        _add(tar, "sources.json", json.dumps({"taken": taken, "missing": missing}).encode(), time.time())
    os.chmod(params["dest"], 0o600)
    return taken, missing


def main():
    module = AnsibleModule(argument_spec=dict(
        sources=dict(type="list", elements="dict", default=[], options=dict(
            name=dict(type="str", required=True), path=dict(type="str", required=True))),
        snapshot=dict(type="list", elements="str", default=[]),
        extra=dict(type="dict", default={}),
        mask=dict(type="list", elements="str", default=[], no_log=True),
        max_bytes=dict(type="int", default=64 * 1024 * 1024),
        dest=dict(type="path", required=True),
    ), supports_check_mode=True)
    try:
        taken, missing = bundle(module.params)
    except OSError as exc:
        module.fail_json(msg=f"cannot write the bundle {module.params['dest']}: {exc}")
    module.exit_json(changed=False, taken=[t["name"] for t in taken], missing=missing)


if __name__ == "__main__":
    main()
