"""The guest image: built only from Debian packages, cached by its inputs.

- kernel: linux-image-cloud-amd64's kernel package, fetched with
  `apt-get download` and unpacked with `dpkg-deb -x` into the cache (never
  installed on the host);
- initramfs: busybox-static, the virtio drivers and the loader;
- OS disk (ext4, qcow2): busybox, fio with every shared library it maps (ldd),
  the boot script and the run-command agent. Each VM boots a qcow2 overlay of it.

The cache directory is named after a hash of every input (kernel package
version, the bytes of busybox/fio/libraries, our guest sources), so a second
build with the same inputs is a lookup.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lab.compute import guest_files, rootfs

KERNEL_METAPACKAGE = "linux-image-cloud-amd64"
BUSYBOX = Path("/bin/busybox")
FIO = Path("/usr/bin/fio")
BUILDER_VERSION = "1"
APT_LISTS = Path("/var/lib/apt/lists")

Progress = Callable[[str], None]


class ImageError(RuntimeError):
    """The guest image cannot be built (missing package, apt failure)."""


@dataclass(frozen=True)
class GuestImage:
    key: str
    directory: Path
    built_now: bool = False

    @property
    def kernel(self) -> Path:
        return self.directory / "vmlinuz"

    @property
    def initrd(self) -> Path:
        return self.directory / "initrd.img"

    @property
    def os_disk(self) -> Path:
        return self.directory / "os.qcow2"

    def manifest(self) -> dict:
        return json.loads((self.directory / "manifest.json").read_text())


def cache_root() -> Path:
    env = os.environ.get("STACKLAB_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "stacklab"


def _quiet(_: str) -> None:
    pass


def _run(*cmd: str, cwd: Path | None = None) -> str:
    try:
        return subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=cwd).stdout
    except FileNotFoundError as exc:
        raise ImageError(f"{cmd[0]} not found: run scripts/install-deps.sh") from exc
    except subprocess.CalledProcessError as exc:
        raise ImageError(f"{' '.join(cmd)} failed: {exc.stderr.strip()}") from exc


def kernel_package() -> tuple[str, str]:
    """(package, version) of the kernel the metapackage depends on. apt-cache
    takes seconds here (no binary cache), so the answer is remembered until
    the apt lists change."""
    stamp = max((p.stat().st_mtime_ns for p in APT_LISTS.glob("*Packages*")), default=0)
    memo = cache_root() / "kernel-package.json"
    try:
        saved = json.loads(memo.read_text())
        if saved["lists_stamp"] == stamp:
            return saved["package"], saved["version"]
    except (OSError, ValueError, KeyError):
        pass
    try:
        show = _run("apt-cache", "show", "--no-all-versions", KERNEL_METAPACKAGE)
    except ImageError:  # a fresh machine may have empty apt lists
        _run("apt-get", "update", "-qq")
        show = _run("apt-cache", "show", "--no-all-versions", KERNEL_METAPACKAGE)
    match = re.search(r"^Depends:.*?(linux-image-[^\s,]+) \(= ([^)]+)\)", show, re.MULTILINE)
    if not match:
        raise ImageError(f"apt knows no kernel behind {KERNEL_METAPACKAGE}: run apt-get update")
    _mkdir(memo.parent)
    memo.write_text(json.dumps({"lists_stamp": stamp, "package": match.group(1),
                                "version": match.group(2)}))
    return match.group(1), match.group(2)


def _file_digest(path: Path, h: hashlib.blake2b) -> None:
    """Files from dpkg: a new package version means new size/mtime/inode."""
    st = path.stat()
    h.update(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ino}\0".encode())


def image_key(kernel: tuple[str, str]) -> str:
    h = hashlib.blake2b(digest_size=12)
    h.update(f"builder={BUILDER_VERSION}\0kernel={kernel[0]}={kernel[1]}\0".encode())
    for path in [BUSYBOX, FIO, *rootfs.shared_libraries(FIO)]:
        _file_digest(path, h)
    for name, text in sorted(guest_files.sources().items()):
        h.update(f"{name}\0{text}\0".encode())
    return h.hexdigest()


def find_image(key: str | None = None) -> GuestImage | None:
    """The cached image for the current inputs (or `key`), if already built."""
    key = key or image_key(kernel_package())
    directory = cache_root() / "images" / key
    return GuestImage(key, directory) if (directory / "manifest.json").exists() else None


def build_image(progress: Progress = _quiet, force: bool = False) -> GuestImage:
    """Build the guest image unless the cache already holds it."""
    for tool, pkg in ((BUSYBOX, "busybox-static"), (FIO, "fio")):
        if not tool.exists():
            raise ImageError(f"{tool} missing: install {pkg} (scripts/install-deps.sh)")
    progress("resolving inputs")
    kernel = kernel_package()
    key = image_key(kernel)
    cached = find_image(key)
    if cached and not force:
        progress(f"cached: {cached.directory}")
        return cached
    # two labs coming up at once build one image: the second waits and finds it
    with open(_mkdir(cache_root() / "images") / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        cached = find_image(key)
        if cached and not force:
            progress(f"cached: {cached.directory}")
            return cached
        return _build(kernel, key, progress)


def _build(kernel: tuple[str, str], key: str, progress: Progress) -> GuestImage:
    target = cache_root() / "images" / key
    work = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=_mkdir(target.parent)))
    try:
        kroot = _unpack_kernel(kernel, work, progress)
        kver = next((kroot / "lib/modules").iterdir()).name
        shutil.copyfile(kroot / f"boot/vmlinuz-{kver}", work / "vmlinuz")
        progress("initramfs: busybox loader + virtio drivers")
        modules = _build_initramfs(kroot / "lib/modules" / kver, work)
        progress("OS disk: busybox, fio and its libraries, agent")
        os_bytes = _build_os_disk(work)
        _write_manifest(work, key, kernel, kver, modules, os_bytes)
        shutil.rmtree(work / "kernel-root")
        shutil.rmtree(target, ignore_errors=True)
        work.chmod(0o755)
        os.replace(work, target)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    progress(f"built: {target}")
    return GuestImage(key, target, built_now=True)


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _unpack_kernel(kernel: tuple[str, str], work: Path, progress: Progress) -> Path:
    debs = _mkdir(cache_root() / "debs")
    name, version = kernel
    deb = next(debs.glob(f"{name}_{version.replace(':', '%3a')}_*.deb"), None)
    if deb is None:
        progress(f"apt-get download {name}={version}")
        _run("apt-get", "download", "-q", "-o", "APT::Sandbox::User=root",
             f"{name}={version}", cwd=debs)
        deb = next(debs.glob(f"{name}_*.deb"))
    progress(f"dpkg-deb -x {deb.name}")
    root = work / "kernel-root"
    _run("dpkg-deb", "-x", str(deb), str(root))
    return root


def _build_initramfs(modules_root: Path, work: Path) -> list[str]:
    tree = work / "initramfs"
    for d in ("bin", "proc", "sys", "dev", "os", "modules"):
        (tree / d).mkdir(parents=True)
    shutil.copyfile(BUSYBOX, tree / "bin/busybox")
    (tree / "bin/busybox").chmod(0o755)
    for applet in guest_files.LOADER_APPLETS:
        (tree / "bin" / applet).symlink_to("busybox")
    (tree / "init").write_text(guest_files.LOADER_INIT)
    (tree / "init").chmod(0o755)
    index = rootfs.module_index(modules_root)
    order = rootfs.load_order(guest_files.VIRTIO_MODULES, index)
    for name in order:
        shutil.copyfile(index[name], tree / "modules" / f"{name}.ko")
    (tree / "modules/order").write_text("".join(f"{m}\n" for m in order))
    rootfs.write_cpio(tree, work / "initrd.img")
    shutil.rmtree(tree)
    return order


def _build_os_disk(work: Path) -> int:
    root = work / "os-root"
    for d in ("bin", "sbin", "etc", "proc", "sys", "dev", "tmp", "run", "root", "usr/bin"):
        (root / d).mkdir(parents=True, exist_ok=True)
    shutil.copyfile(BUSYBOX, root / "bin/busybox")
    (root / "bin/busybox").chmod(0o755)
    applets = _run(str(BUSYBOX), "--list").split()
    for applet in applets:
        if applet != "busybox":
            (root / "bin" / applet).symlink_to("busybox")
    (root / "sbin/init").symlink_to("../bin/busybox")
    for rel in ("etc/rc.boot", "etc/inittab", "sbin/stacklab-agent"):
        (root / rel).write_text(guest_files.sources()[rel])
        (root / rel).chmod(0o755)
    rootfs.copy_with_libraries(FIO, root)
    size = rootfs.tree_size(root)
    raw = work / "os.ext4"
    rootfs.make_ext4(root, raw, "stacklab-os")
    _run("qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", str(raw), str(work / "os.qcow2"))
    raw.unlink()
    shutil.rmtree(root)
    return size


def _write_manifest(work: Path, key: str, kernel: tuple[str, str], kver: str,
                    modules: list[str], os_bytes: int) -> None:
    versions = _run("dpkg-query", "-W", "-f", "${Package}=${Version}\n", "fio", "busybox-static")
    manifest = {
        "key": key,
        "kernel_package": f"{kernel[0]}={kernel[1]}",
        "kernel_release": kver,
        "packages": versions.split(),
        "modules": modules,
        "os_files_mib": round(os_bytes / (1 << 20), 1),
        "files": {p.name: p.stat().st_size for p in work.iterdir() if p.is_file()},
    }
    (work / "manifest.json").write_text(json.dumps(manifest, indent=2))
