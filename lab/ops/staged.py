"""Log collection from real servers: what the Ansible role `log_collect`
fetched (one tar per host: its files with their mtimes, its kernel
snapshot, its BMC's inventory and a list of what was missing) turned into
the same items, archive layout and manifest as the embedded lab's.

The window and the redaction are applied here, on the controller, by the
same code as for the embedded lab (lab.ops.logs), so a line is in or out of
an archive by the same rule wherever it was written. Tar members are read
as plain files only, by name, never extracted as links or outside the
staging directory.
"""

from __future__ import annotations

import json
import os
import tarfile
from pathlib import Path, PurePosixPath
from typing import Any

from lab.ops.sources import Host, Item

BUNDLE_SUFFIX = ".tar"


def _unpack(bundle: Path, into: Path) -> None:
    """Regular members with safe relative names; each file keeps its mtime."""
    with tarfile.open(bundle) as tar:
        for member in tar:
            name = PurePosixPath(member.name)
            if not member.isfile() or name.is_absolute() or ".." in name.parts:
                continue
            target = into.joinpath(*name.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            source = tar.extractfile(member)
            assert source is not None
            target.write_bytes(source.read())
            os.utime(target, (member.mtime, member.mtime))


def _json(path: Path) -> Any:
    return json.loads(path.read_text())


def host_items(staging: Path, host: Host, failure: str = "") -> list[Item]:
    """One host's items; if nothing was fetched, one missing entry saying why."""
    bundle = staging / f"{host.name}{BUNDLE_SUFFIX}"
    if not bundle.is_file():
        why = failure or "the playbook fetched nothing from this host"
        return [Item(f"hosts/{host.name}/", host.role, "host", missing=why)]
    root = staging / host.name
    _unpack(bundle, root)
    found: list[Item] = []
    listed = _json(root / "sources.json") if (root / "sources.json").is_file() else {"missing": []}
    if (root / "kernel.json").is_file():
        found.append(Item(f"hosts/{host.name}/kernel.json", host.role, "snapshot",
                          produce=lambda p=root / "kernel.json": _json(p)))
    if (root / "extra" / "bmc.json").is_file():
        found.append(Item(f"hosts/{host.name}/bmc.json", host.role, "bmc-inventory",
                          produce=lambda p=root / "extra" / "bmc.json": _json(p)))
    files, origin = root / "files", {t["name"]: t.get("source", "") for t in listed.get("taken", [])}
    if files.is_dir():
        found += [Item(f"daemons/{host.name}/{name}", host.role, "daemon-log", p,
                       origin=f"{host.name}:{origin.get(name, name)}")
                  for p in sorted(files.rglob("*")) if p.is_file() for name in [str(p.relative_to(files))]]
    found += [Item(f"daemons/{host.name}/{m['name']}" if m["name"] != "kernel.json"
                   else f"hosts/{host.name}/kernel.json", host.role, "daemon-log",
                   missing=f"on {host.name}: {m.get('source', '')} {m['missing']}".replace("  ", " "))
              for m in listed.get("missing", [])]
    return found
