"""Robustness tests (crash, concurrency, history under kill -9): root, and for
the VM ones libvirt/QEMU; in CI a missing piece fails loudly."""

from __future__ import annotations

import os
import shutil

import pytest

VM_TOOLS = ("libvirtd", "virtlogd", "qemu-system-x86_64", "qemu-img", "bpftool", "clang")
LB_TOOLS = ("bpftool", "clang", "vtysh")


def require(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None and not os.path.exists(f"/usr/lib/frr/{t}")]
    if os.geteuid() != 0:
        missing.insert(0, "root")
    if missing:
        message = f"needs {', '.join(missing)} (scripts/install-deps.sh)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
