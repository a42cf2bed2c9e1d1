"""Where a check keeps its evidence (pcaps, fio output): the running verify's
own directory under the lab's results, which `lab down` leaves alone.

Checks are built before the run (partials in the catalog), so the run's
directory reaches them through a context variable instead of a parameter of
every check: `new_path()` asks for a file name, `kept_in()` is the run's
scope. Outside a run (a check called on its own) files go to the lab's state
dir as before. `adopt()` is the safety net for a check that still writes into
the lab's state dir: the file moves into the run's directory and the result
names its new place, so no report ever points at what `down` deletes.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from lab.paths import lab_dir
from lab.verify.result import CheckResult

_current: ContextVar[Path | None] = ContextVar("stacklab_evidence_dir", default=None)


@contextmanager
def kept_in(directory: Path) -> Iterator[Path]:
    """Checks run inside this block keep their evidence in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    token = _current.set(directory)
    try:
        yield directory
    finally:
        _current.reset(token)


def current_dir(lab: str) -> Path:
    """The running verify's evidence dir, else the lab's state dir (no run)."""
    directory = _current.get() or lab_dir(lab) / "evidence"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def new_path(lab: str, stem: str, suffix: str) -> Path:
    """A file name for new evidence that no other check of the run uses."""
    directory = current_dir(lab)
    base = f"{stem}-{int(time.time())}"
    for n in range(1000):
        path = directory / (f"{base}{suffix}" if n == 0 else f"{base}-{n}{suffix}")
        if not path.exists():
            path.touch()
            return path
    raise RuntimeError(f"no free evidence file name for {stem} in {directory}")


def adopt(results: Sequence[CheckResult], lab: str, directory: Path,
          moved: dict[str, str] | None = None) -> None:
    """Move evidence files that lie in the lab's state dir into `directory`
    and point the results at them. `moved` remembers files already moved, for
    results of the same run that share one (one pcap for several tenants)."""
    moved = {} if moved is None else moved
    state = lab_dir(lab).resolve()
    for r in results:
        if r.evidence in moved:
            r.evidence = moved[r.evidence]
            continue
        path = Path(r.evidence) if r.evidence.startswith("/") else None
        if path is None or not path.is_file() or not path.resolve().is_relative_to(state):
            continue
        directory.mkdir(parents=True, exist_ok=True)
        target = directory / path.name
        if target.exists():
            target = directory / f"{path.stem}-{len(moved)}{path.suffix}"
        shutil.move(path, target)
        moved[r.evidence] = str(target)
        r.evidence = str(target)
