"""Where stacklab keeps its files: everything under one home directory.

    $STACKLAB_HOME (default /var/lib/stacklab)
      labs/<lab>/      what a running lab owns: journal, applied plan, VM disks,
                       LB state; `lab down` deletes it
      results/<lab>/   what the lab's runs produced: history, JUnit, reports,
                       evidence (verify/<time>/evidence); kept across `down`, it is
                       the next night's baseline
      locks/<lab>.lock one `up`/`down` at a time per lab
      log/             tracebacks of commands that crashed

Every module asks here, so the default is written once.
"""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENV = "STACKLAB_HOME"
DEFAULT_HOME = Path("/var/lib/stacklab")


def home() -> Path:
    return Path(os.environ.get(HOME_ENV) or DEFAULT_HOME)


def lab_dir(lab: str) -> Path:
    return home() / "labs" / lab


def results_dir(lab: str) -> Path:
    return home() / "results" / lab


def lock_path(lab: str) -> Path:
    return home() / "locks" / f"{lab}.lock"


def log_dir() -> Path:
    return home() / "log"
