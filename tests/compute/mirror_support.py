"""What the mirrored-disk live tests share: the tools they need, and the
processes of a lab found by its directory on their command line."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

STORAGE_TOOLS = ("qemu-storage-daemon", "qemu-img", "qemu-io")
VM_TOOLS = ("libvirtd", "virtlogd", "qemu-system-x86_64", "fio", "dpkg-deb", "mke2fs")


def require_mirror_host(vm: bool = False) -> None:
    """Root and the QEMU storage tools (and the VM tools); in CI a missing piece fails loudly."""
    tools = STORAGE_TOOLS + (VM_TOOLS if vm else ())
    missing = ([] if os.geteuid() == 0 else ["root"]) + [t for t in tools if shutil.which(t) is None]
    if missing:
        message = f"mirror tests need {', '.join(missing)} (scripts/install-deps.sh)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def lab_processes(lab_dir: Path) -> list[str]:
    """Live processes whose command line names the lab directory (zombies have none)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(lab_dir) in cmdline:
            found.append(f"{proc.name}: {cmdline[:160]}")
    return found
