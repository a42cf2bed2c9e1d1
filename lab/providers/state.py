"""Per-lab directory: the resource journal, the lock, the plan that was applied.

The journal is written *before* each resource is created (one fsynced JSON
line per record), so after a kill -9 midway through `up`, `down` still knows
everything that may exist. Kernel objects also carry the lab's ownership mark,
so nothing is ever deleted by name alone.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lab.apply.journal import Journal, Resource
from lab.model.problems import did_you_mean
from lab.paths import home as state_root
from lab.paths import lab_dir, lock_path

__all__ = ["Journal", "LabBusyError", "NoSuchLabError", "Resource", "known_labs", "lab_dir", "lab_lock", "lock_path",
           "read_json", "remove_lab_dir", "require_lab", "state_root", "write_json"]


def known_labs() -> list[str]:
    labs = state_root() / "labs"
    return sorted(p.name for p in labs.iterdir() if p.is_dir()) if labs.exists() else []


class NoSuchLabError(LookupError):
    """A lab named by the user has no directory on this host (never up, or down)."""


def require_lab(name: str) -> str:
    """`name` if this host holds that lab, else NoSuchLabError listing the labs it holds."""
    labs = known_labs()
    if name in labs:
        return name
    raise NoSuchLabError(f"no lab {name}{did_you_mean(name, labs)}; labs here: {', '.join(labs) or 'none'}")


class LabBusyError(RuntimeError):
    """Another `up`/`down` holds this lab's lock."""


@contextmanager
def lab_lock(lab: str) -> Iterator[None]:
    """Exclusive per-lab lock held for a whole `up`/`down`; never waits."""
    path = lock_path(lab)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            raise LabBusyError(
                f"lab '{lab}' is busy: another `lab up`/`lab down` (pid {holder}) holds {path}"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)


def write_json(path: Path, data: object) -> None:
    """Atomic write: a crash leaves the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str))
    os.replace(tmp, path)


def read_json(path: Path) -> object | None:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def remove_lab_dir(lab: str) -> None:
    shutil.rmtree(lab_dir(lab), ignore_errors=True)
