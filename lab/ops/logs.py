"""`lab logs collect`: one archive (tar + zstd) of a lab's logs, state and
evidence for a role and a time window, with a manifest of what was taken,
what was missing and why (the seed's Get-AzureStackLog).

Every file goes through the redactor before it is written, and the secret
store is never read. The archive is written to a temporary name beside the
output and renamed at the end, so a failed collection leaves no file.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zstandard

from lab.ops.redact import Redactor
from lab.ops.secret_store import secret_values, secrets_dir
from lab.ops.sources import ROLES, Inventory, Item, items
from lab.ops.window import Window

ZSTD_LEVEL = 10


class CollectError(ValueError):
    """Bad input to a collection (names the option and the fix)."""


@dataclass
class Collected:
    path: Path
    manifest: dict[str, Any]


def check_roles(roles: list[str]) -> set[str]:
    """The selected roles; `all` (or none) is every role."""
    unknown = [r for r in roles if r not in (*ROLES, "all")]
    if unknown:
        raise CollectError(f"--role {unknown[0]!r} is not a role; use one of: {', '.join((*ROLES, 'all'))}")
    return set(ROLES) | {"unknown"} if not roles or "all" in roles else set(roles)


def _wanted(item: Item, roles: set[str]) -> bool:
    return item.role == "lab" or item.role in roles


def _read(item: Item, window: Window, redactor: Redactor) -> tuple[bytes | None, dict[str, Any]]:
    """The item's bytes for the archive (None when nothing is taken) and its manifest entry."""
    entry: dict[str, Any] = {"name": item.arcname, "role": item.role, "kind": item.kind}
    if item.missing:
        return None, {**entry, "missing": item.missing}
    if item.produce is not None:
        if not window.includes_now():
            return None, {**entry, "missing": "a snapshot shows the state at collection time, "
                                              "after the end of the window"}
        try:
            data = item.produce()
        except Exception as exc:  # noqa: BLE001 - one unreadable source is a manifest line
            return None, {**entry, "missing": f"{type(exc).__name__}: {exc}"}
        text = json.dumps(data, indent=1, default=str)
        return redactor.text(text).encode(), {**entry, "selected_by": "snapshot", "taken_at": time.time()}
    assert item.path is not None
    if redactor.is_secret_path(item.path):
        return None, {**entry, "source": item.origin or str(item.path), "missing": "secret file: never collected"}
    try:
        raw, mtime = item.path.read_bytes(), item.path.stat().st_mtime
    except FileNotFoundError:
        return None, {**entry, "source": item.origin or str(item.path), "missing": "file does not exist"}
    except OSError as exc:
        return None, {**entry, "source": item.origin or str(item.path), "missing": f"unreadable: {exc.strerror}"}
    text = raw.decode(errors="replace")
    if item.only_lines_with:
        text = "".join(line for line in text.splitlines(keepends=True)
                       if any(key in line for key in item.only_lines_with))
    kept, how = window.filter_text(text, mtime)
    entry = {**entry, "source": item.origin or str(item.path), "selected_by": how,
             **({"only_lines_naming": "the lab's domains"} if item.only_lines_with else {})}
    if kept is None:
        return None, {**entry, "missing": "nothing within the window"
                      + (" (file modified outside it)" if how == "mtime" else "")}
    return redactor.text(kept).encode(), {**entry, "bytes": len(kept.encode())}


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), int(time.time()), 0o644
    tar.addfile(info, io.BytesIO(data))


def collect(inv: Inventory, roles: set[str], window: Window, output: Path,
            snapshot: Callable[[str], object], bpf_summary: Callable[[], object],
            bmc_inventory: Callable[[str], object] | None = None,
            found: list[Item] | None = None, secrets: tuple[str, ...] = ()) -> Collected:
    """`found`: the items to take, when they do not come from this machine
    (real servers, fetched through Ansible); else they are listed here.
    `secrets`: values to mask beside the lab's store (the inventory's)."""
    redactor = Redactor([*secret_values(inv.lab), *secrets], [secrets_dir(inv.lab)])
    output = Path(output)
    tmp = output.with_name(f".{output.name}.{os.getpid()}.tmp")
    taken, missing = [], []
    try:
        with open(tmp, "wb") as raw, zstandard.ZstdCompressor(level=ZSTD_LEVEL).stream_writer(raw) as zst, \
                tarfile.open(fileobj=zst, mode="w|") as tar:
            for item in found if found is not None else items(inv, snapshot, bpf_summary, bmc_inventory):
                if not _wanted(item, roles):
                    continue
                data, entry = _read(item, window, redactor)
                if data is None:
                    missing.append(entry)
                    continue
                _add(tar, f"{inv.lab}/{item.arcname}", data)
                taken.append(entry)
            manifest = _manifest(inv, roles, window, taken, missing, redactor)
            _add(tar, f"{inv.lab}/manifest.json", json.dumps(manifest, indent=1).encode())
        os.replace(tmp, output)
    finally:
        tmp.unlink(missing_ok=True)
    return Collected(output, manifest)


def _manifest(inv: Inventory, roles: set[str], window: Window, taken: list, missing: list,
              redactor: Redactor) -> dict[str, Any]:
    return {"lab": inv.lab, "collected_at": time.time(), "inventory_from": inv.source,
            "roles": sorted(roles), "window": window.to_json(),
            "hosts": [{"name": h.name, "role": h.role, "namespace": h.namespace} for h in inv.hosts],
            "vms": [vm.name for vm in inv.vms], "taken": taken, "missing": missing,
            "redactions": redactor.masked,
            "selection": {"lines": "lines kept by their own timestamp", "mtime": "whole file, by its "
                          "modification time (its lines carry no timestamp)",
                          "snapshot": "kernel or datapath state read at collection time"}}


def read_archive(path: Path) -> dict[str, bytes]:
    """Every member of an archive (for tests and `lab logs show`)."""
    with open(path, "rb") as raw, zstandard.ZstdDecompressor().stream_reader(raw) as zst, \
            tarfile.open(fileobj=zst, mode="r|") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}  # type: ignore[union-attr]
