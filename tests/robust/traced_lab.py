"""The real `lab` command, with markers: `python traced_lab.py up FILE`.

Each progress message of `lab up` and each journal record (written before
the resource it announces is created) is appended, with the CLOCK_MONOTONIC
time, to the file $CRASH_TRACE. Nothing else changes: the markers only tell
a test where `up` is, so that it can `kill -9` it there (tests/robust)."""

from __future__ import annotations

import os
import sys
import time

import rich.status

from lab.apply import journal

TRACE = open(os.environ["CRASH_TRACE"], "a", buffering=1)  # noqa: SIM115 - open until the process dies


def mark(what: str) -> None:
    TRACE.write(f"{time.monotonic():.4f} {what}\n")
    TRACE.flush()


_update = rich.status.Status.update
_record = journal.Journal.record


def update(self, status=None, **kwargs):  # noqa: ANN001, ANN003, ANN201
    if status is not None:
        mark(f"phase {str(status).split(': ', 1)[-1]}")
    return _update(self, status, **kwargs)


def record(self, kind: str, name: str, detail: str = "") -> None:  # noqa: ANN001
    _record(self, kind, name, detail)
    mark(f"journal {kind} {name}")


rich.status.Status.update = update
journal.Journal.record = record

if __name__ == "__main__":
    from lab.cli.root import main

    sys.argv = ["lab", *sys.argv[1:]]
    mark("start")
    main()
