"""Robustness tests (crash, concurrency, history under kill -9): root, and for
the VM ones libvirt/QEMU; in CI a missing piece fails loudly."""

from __future__ import annotations

import os
import shutil

import pytest

VM_TOOLS = ("libvirtd", "virtlogd", "qemu-system-x86_64", "qemu-img", "bpftool", "clang")
LB_TOOLS = ("bpftool", "clang", "vtysh")


def require(*tools: str) -> None:
    """Skip (fail in CI) unless root and every tool (FRR's daemons live in /usr/lib/frr) is here."""
    absent = ["root"] * (os.geteuid() != 0) + [
        t for t in tools if not (shutil.which(t) or os.path.exists(f"/usr/lib/frr/{t}"))]
    if absent:
        (pytest.fail if os.environ.get("CI") else pytest.skip)(f"needs {', '.join(absent)} (scripts/install-deps.sh)")
