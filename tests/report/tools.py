"""The external tools the report tests run."""

from __future__ import annotations

import os
import shutil

import pytest


def require_binary(name: str) -> str:
    """The path of a tool the report tests run (from apt: scripts/install-deps.sh);
    fails in CI or as root, skips on a developer laptop without it."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI") or os.geteuid() == 0:
            pytest.fail(f"{name} is not installed (scripts/install-deps.sh installs it)")
        pytest.skip(f"{name} not installed and not root/CI")
    return path
