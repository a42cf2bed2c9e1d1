"""Assemble guest file trees: an initramfs (newc cpio), an ext4 OS disk, the
kernel modules a driver needs and the shared libraries a binary needs.

Written here rather than shelled out to cpio/find so the archive is
deterministic (mtime 0, uid 0): same inputs, same bytes.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

_CPIO_MAGIC = b"070701"


def _cpio_entry(name: str, mode: int, data: bytes = b"", ino: int = 0) -> bytes:
    encoded = name.encode() + b"\0"
    fields = [ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(encoded), 0]
    header = _CPIO_MAGIC + b"".join(b"%08X" % f for f in fields)
    out = header + encoded
    out += b"\0" * (-len(out) % 4)
    out += data + b"\0" * (-len(data) % 4)
    return out


def write_cpio(tree: Path, target: Path) -> None:
    """A newc archive of `tree` (files, dirs, symlinks) as the kernel unpacks it."""
    chunks = []
    ino = 1
    for path in sorted(tree.rglob("*")):
        rel = path.relative_to(tree).as_posix()
        st = path.lstat()
        if path.is_symlink():
            chunks.append(_cpio_entry(rel, 0o120777, os.readlink(path).encode(), ino))
        elif path.is_dir():
            chunks.append(_cpio_entry(rel, 0o040755, b"", ino))
        else:
            chunks.append(_cpio_entry(rel, 0o100000 | (st.st_mode & 0o7777), path.read_bytes(), ino))
        ino += 1
    chunks.append(_cpio_entry("TRAILER!!!", 0))
    target.write_bytes(b"".join(chunks))


def module_index(modules_root: Path) -> dict[str, Path]:
    """Module name (dashes as underscores) -> .ko file."""
    return {p.name[:-3].replace("-", "_"): p for p in modules_root.rglob("*.ko")}


def module_depends(ko: Path) -> list[str]:
    """The `depends=` entry of the module's .modinfo section."""
    match = re.search(rb"\0depends=([^\0]*)\0", ko.read_bytes())
    if not match or not match.group(1):
        return []
    return [m.replace("-", "_") for m in match.group(1).decode().split(",")]


def load_order(wanted: tuple[str, ...], index: dict[str, Path]) -> list[str]:
    """Wanted modules and their dependencies, each after what it depends on.
    A wanted module absent from the index is built into the kernel: skipped."""
    order: list[str] = []

    def visit(name: str, chain: tuple[str, ...]) -> None:
        if name in order or name not in index:
            return
        if name in chain:
            raise ValueError(f"module dependency cycle: {' -> '.join(chain + (name,))}")
        for dep in module_depends(index[name]):
            visit(dep, chain + (name,))
        order.append(name)

    for name in wanted:
        visit(name, ())
    return order


def shared_libraries(binary: Path) -> list[Path]:
    """Every library the dynamic loader maps for `binary` (ldd), loader included."""
    out = subprocess.run(["ldd", str(binary)], check=True, capture_output=True, text=True).stdout
    libs = []
    for line in out.splitlines():
        m = re.search(r"(/\S+) \(0x", line)
        if m:
            libs.append(Path(m.group(1)))
    return libs


def copy_with_libraries(binary: Path, root: Path) -> list[Path]:
    """Copy `binary` and its libraries under `root` at the paths the loader
    looks them up by (merged /usr: /lib and /lib64 are symlinks into usr)."""
    for link, target in (("lib", "usr/lib"), ("lib64", "usr/lib64")):
        (root / target).mkdir(parents=True, exist_ok=True)
        if not (root / link).is_symlink():
            (root / link).symlink_to(target)
    copied = []
    for src in [binary, *shared_libraries(binary)]:
        dest = root / Path(os.path.realpath(src.parent)).relative_to("/") / src.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)  # follows the soname symlink: the real file
        dest.chmod(0o755)
        copied.append(src)
    return copied


def tree_size(root: Path) -> int:
    return sum(p.lstat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def make_ext4(root: Path, image: Path, label: str) -> None:
    """An ext4 image holding `root`, with room to spare for the guest's writes."""
    size_mib = tree_size(root) * 13 // 10 // (1 << 20) + 64
    image.unlink(missing_ok=True)
    subprocess.run(["mke2fs", "-q", "-F", "-t", "ext4", "-L", label, "-E", "root_owner=0:0",
                    "-d", str(root), str(image), f"{size_mib}M"], check=True, capture_output=True)
