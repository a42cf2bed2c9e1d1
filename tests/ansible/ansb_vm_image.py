"""A disposable Debian VM image for the Ansible roles, built only from Debian packages.

debootstrap (minbase) into a directory, then apt inside it adds the packages
the roles install (their `*_packages` defaults: qemu/libvirt for kvm_host,
python3-venv for lab_agent...; without Recommends), then `mkfs.ext4 -d` turns
the directory into a raw root filesystem (no loop devices, no partitions); the
kernel and initrd are copied out for direct kernel boot. The VM has no route
out, so every package the roles install is preinstalled here. The image is
cached by the hash of its recipe (package lists included); a run boots a
qcow2 overlay of it.

Run as a script to (re)build the cache: python tests/ansible/ansb_vm_image.py
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

CACHE = Path(os.environ.get("STACKLAB_VM_CACHE", "/var/cache/stacklab/ansible-vm"))
SUITE = "bookworm"
PACKAGES = [
    "openssh-server", "python3", "python3-apt", "sudo", "systemd-sysv", "udev", "kmod",
    "iproute2", "nftables", "auditd", "python3-pyroute2", "linux-image-cloud-amd64",
]
GUEST_MAC = "02:a5:b0:00:00:02"
GUEST_ADDRESS = "198.18.1.2"
HOST_ADDRESS = "198.18.1.1"
ADMIN = "admin"
ADMIN_PASSWORD = "lab-admin-password"  # only in this throwaway image: proves password login is refused
RECIPE_VERSION = 2
ROLES = Path(__file__).resolve().parents[2] / "playbooks" / "roles"
# roles whose packages a server of the lab installs (rdma_nic only when a NIC claims RDMA)
ROLE_PACKAGES = (("baseline", "baseline_packages"), ("kvm_host", "kvm_host_packages"),
                 ("lab_agent", "lab_agent_packages"))
HOST_APT_ARCHIVES = Path("/var/cache/apt/archives")
UNSAFE_IO = "/etc/dpkg/dpkg.cfg.d/99stacklab-unsafe-io"


@dataclass(frozen=True)
class VmImage:
    disk: Path
    kernel: Path
    initrd: Path
    key: Path  # the admin's private key (generated for this image)


def role_packages() -> list[str]:
    """Every package the server roles install, read from their defaults: the image follows the roles."""
    names: set[str] = set()
    for role, variable in ROLE_PACKAGES:
        defaults = yaml.safe_load((ROLES / role / "defaults" / "main.yml").read_text())
        names.update(defaults[variable])
    return sorted(names - set(PACKAGES))


def recipe_hash() -> str:
    text = repr((RECIPE_VERSION, SUITE, PACKAGES, role_packages(), GUEST_MAC, GUEST_ADDRESS, ADMIN))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def mirror() -> str:
    """The Debian mirror this machine's apt uses (the VM build may use nothing else)."""
    for source in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        match = re.search(r"^URIs:\s*(\S+/debian)\s*$", source.read_text(), re.M)
        if match:
            return match.group(1)
    return "http://deb.debian.org/debian"


def cached() -> VmImage | None:
    image = _paths(CACHE / recipe_hash())
    return image if all(p.exists() for p in (image.disk, image.kernel, image.initrd, image.key)) else None


def _paths(directory: Path) -> VmImage:
    return VmImage(directory / "root.raw", directory / "vmlinuz", directory / "initrd.img",
                   directory / "admin_ed25519")


def build() -> VmImage:
    """Build (about 100 s here: debootstrap, then apt for qemu/libvirt) or return the cached image."""
    image = cached()
    if image:
        return image
    directory = CACHE / recipe_hash()
    work = directory / "rootfs"
    shutil.rmtree(directory, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        _seed(work)
        subprocess.run(["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}",
                        SUITE, str(work), mirror()], check=True, capture_output=True, timeout=1200)
        _install_role_packages(work)
        (work / UNSAFE_IO.lstrip("/")).unlink()
        image = _paths(directory)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ansb-vm-admin",
                        "-f", str(image.key)], check=True)
        _configure(work, image.key.with_suffix(".pub").read_text())
        shutil.copy(_newest(work / "boot", "vmlinuz-*"), image.kernel)
        shutil.copy(_newest(work / "boot", "initrd.img-*"), image.initrd)
        subprocess.run(["mkfs.ext4", "-q", "-F", "-L", "root", "-d", str(work), str(image.disk), "2G"],
                       check=True, capture_output=True, timeout=600)
        _prune_other_recipes(directory)
        return image
    except BaseException:
        _remove_tree(directory)
        raise
    finally:
        _remove_tree(work)


def _prune_other_recipes(keep: Path) -> None:
    """Images of other recipes are 600 MB each; those a day old are removed (a checkout
    of another commit may still boot a recent one: the cache is machine-wide)."""
    for other in CACHE.iterdir():
        old = time.time() - other.stat().st_mtime > 86400
        if other != keep and other.name != "runs" and (other / "root.raw").exists() and old:
            _remove_tree(other)


def _remove_tree(path: Path) -> None:
    """rmtree, but never through a mount left by an interrupted debootstrap (/proc, /dev)."""
    prefix = str(path.resolve()) + "/"
    mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    for mount in sorted((m for m in mounts if m.startswith(prefix)), reverse=True):
        subprocess.run(["umount", "-l", mount], check=False)
    mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    if any(m.startswith(prefix) for m in mounts):
        raise RuntimeError(f"{path}: mounts remain inside, not deleting it")
    shutil.rmtree(path, ignore_errors=True)


def _seed(root: Path) -> None:
    """Before debootstrap: the debs this machine already downloaded (installing the
    project's own packages: qemu, libvirt, openssh, python3...) are hard-linked into
    the new root's apt cache, where debootstrap and apt find and verify them instead
    of fetching them; dpkg skips fsync while the image is built (it is written once,
    by mkfs, at the end)."""
    archives = root / "var/cache/apt/archives"
    archives.mkdir(parents=True)
    if HOST_APT_ARCHIVES.is_dir() and HOST_APT_ARCHIVES.stat().st_dev == archives.stat().st_dev:
        for deb in HOST_APT_ARCHIVES.glob("*.deb"):
            os.link(deb, archives / deb.name)
    _write(root, UNSAFE_IO, "force-unsafe-io\n")


def _install_role_packages(root: Path) -> None:
    """apt inside the new root (it resolves what debootstrap cannot: virtual packages,
    alternatives); no daemon starts, no Recommends."""
    _write(root, "/usr/sbin/policy-rc.d", "#!/bin/sh\nexit 101\n", 0o755)
    shutil.copy("/etc/resolv.conf", root / "etc/resolv.conf")
    subprocess.run(["mount", "-t", "proc", "proc", str(root / "proc")], check=True)
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C"}
    chroot = ["chroot", str(root)]
    try:
        for argv in (["apt-get", "-q", "update"],
                     ["apt-get", "-q", "-y", "install", "--no-install-recommends", *role_packages()],
                     ["apt-get", "clean"]):
            done = subprocess.run([*chroot, *argv], env=env, capture_output=True, text=True, timeout=1200,
                                  check=False)
            if done.returncode != 0:
                raise RuntimeError(f"{' '.join(argv[:2])} in the image failed: {done.stderr[-1500:]}")
    finally:
        subprocess.run(["umount", "-l", str(root / "proc")], check=False)
    (root / "usr/sbin/policy-rc.d").unlink()
    (root / "etc/resolv.conf").unlink()
    # like a host that was installed and then cut off: no package lists to reach out with
    for lists in (root / "var/lib/apt/lists").glob("*_*"):
        lists.unlink()


def _newest(directory: Path, pattern: str) -> Path:
    return sorted(directory.glob(pattern))[-1]


def _write(root: Path, path: str, text: str, mode: int = 0o644) -> None:
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    target.chmod(mode)


def _configure(root: Path, public_key: str) -> None:
    """Static network, an admin with a key (and a password), sudo; nothing reaches out."""
    _write(root, "/etc/hostname", "ansb-vm\n")
    _write(root, "/etc/hosts", "127.0.0.1 localhost\n127.0.1.1 ansb-vm\n")
    _write(root, "/etc/fstab", "LABEL=root / ext4 defaults 0 1\n")
    _write(root, "/etc/systemd/network/10-lab.network",
           f"[Match]\nMACAddress={GUEST_MAC}\n\n[Network]\nAddress={GUEST_ADDRESS}/24\n")
    wants = root / "etc/systemd/system/multi-user.target.wants"
    wants.mkdir(parents=True, exist_ok=True)
    link = wants / "systemd-networkd.service"
    if not link.exists():
        link.symlink_to("/lib/systemd/system/systemd-networkd.service")
    chroot = ["chroot", str(root)]
    subprocess.run([*chroot, "useradd", "-m", "-s", "/bin/bash", ADMIN], check=True)
    subprocess.run([*chroot, "chpasswd"], input=f"{ADMIN}:{ADMIN_PASSWORD}\n", text=True, check=True)
    _write(root, f"/home/{ADMIN}/.ssh/authorized_keys", public_key, 0o600)
    subprocess.run([*chroot, "chown", "-R", f"{ADMIN}:{ADMIN}", f"/home/{ADMIN}/.ssh"], check=True)
    (root / f"home/{ADMIN}/.ssh").chmod(0o700)
    _write(root, f"/etc/sudoers.d/{ADMIN}", f"{ADMIN} ALL=(ALL) NOPASSWD: ALL\n", 0o440)
    (root / "etc/machine-id").write_text("")
    # the VM has no route out: apt must not try
    _write(root, "/etc/apt/apt.conf.d/99offline", 'Acquire::Retries "0";\n')


if __name__ == "__main__":  # pragma: no cover - manual cache warm-up
    built = build()
    print(built, file=sys.stderr)
