"""Fixtures of the verify command-line tests (helpers in cli_support)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest


@pytest.fixture
def home(monkeypatch) -> Iterator[Path]:
    """A short home (like /var/lib/stacklab), so paths fit in an 80-column line."""
    path = Path(tempfile.mkdtemp(prefix="sl-", dir="/tmp"))
    monkeypatch.setenv("STACKLAB_HOME", str(path))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def use_checks(monkeypatch) -> Callable[[list], None]:
    """Run these checks instead of the catalog's (as root, the lab 'up')."""
    def use(checks: list) -> None:
        monkeypatch.setattr("lab.report.verification.checks_for", lambda plan: list(checks))
        monkeypatch.setattr("lab.cli.common.is_root", lambda: True)
    return use
