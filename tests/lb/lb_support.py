"""Helpers shared by the load-balancer tests.

Tests that need root may skip only outside CI; with CI set they fail loudly.
"""

from __future__ import annotations

import os
import shutil

import pytest


def require_root(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    reason = ""
    if os.geteuid() != 0:
        reason = "needs root (BPF and namespaces)"
    elif missing:
        reason = f"needs {', '.join(missing)}"
    if not reason:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must run it")
    pytest.skip(reason)
