"""Compile the BPF C sources at run time into a cache directory.

Objects are keyed by the sources, the -D options and the compiler version, so
a changed header or ring capacity rebuilds and nothing binary is committed.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

BPF_DIR = Path(__file__).parent / "bpf"
INCLUDES = ("-I/usr/include/x86_64-linux-gnu", f"-I{BPF_DIR}")
# -mcpu=v3: 32-bit jumps and ALU ops (kernel >= 5.1), fewer zero-extension pairs
CFLAGS = ("-O2", "-g", "-target", "bpf", "-mcpu=v3", "-Wall")


class BuildError(RuntimeError):
    """clang failed; the message carries its diagnostics."""


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "stacklab" / "bpf"


def _clang_version() -> str:
    out = subprocess.run(["clang", "--version"], capture_output=True, text=True, check=True)
    return out.stdout.splitlines()[0]


def _key(source: str, defines: dict[str, str | int]) -> str:
    h = hashlib.sha256()
    for path in sorted(BPF_DIR.glob("*.[ch]")):
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    h.update(source.encode())
    h.update(repr(sorted(defines.items())).encode())
    h.update(_clang_version().encode() + repr(CFLAGS).encode())
    return h.hexdigest()[:16]


def build(source: str, defines: dict[str, str | int] | None = None) -> Path:
    """Return the path of the object for `source` (a file in lab/lb/bpf), building it if needed."""
    defines = dict(defines or {})
    out = cache_dir() / f"{Path(source).stem}-{_key(source, defines)}.o"
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(f".{os.getpid()}.tmp")
    cmd = ["clang", *CFLAGS, *INCLUDES,
           *(f"-D{k}={v}" for k, v in sorted(defines.items())),
           "-c", str(BPF_DIR / source), "-o", str(tmp)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise BuildError(f"clang failed for {source}:\n{proc.stderr}")
    tmp.replace(out)
    return out


def lb_object(ring_slots: int | None = None, rewind: bool = False) -> Path:
    defines: dict[str, str | int] = {}
    if ring_slots:
        defines["LB_RING_SLOTS"] = ring_slots
    if rewind:
        defines["LB_BENCH_REWIND"] = 1
    return build("lb_xdp.c", defines)


def simple_object(action: str, head_shift: int = 0) -> Path:
    """XDP_DROP / XDP_PASS / XDP_TX reference program; with head_shift, it first
    moves the head out and back by that many bytes (two helper calls)."""
    if action not in ("XDP_DROP", "XDP_PASS", "XDP_TX"):
        raise ValueError(f"unknown XDP action {action!r}")
    defines: dict[str, str | int] = {"XDP_ACTION": action}
    if head_shift:
        defines["HEAD_SHIFT"] = head_shift
    return build("xdp_simple.c", defines)
