"""Boot the disposable Debian VM under libvirt with its NIC in a lab namespace.

The domain is transient (createXML) and uses TCG (nested KVM hangs on the CI
machines); the tap libvirt creates is moved into a namespace of ours, so the
VM is reachable only from there (ssh goes through a ProxyCommand that enters
the namespace). Everything is removed on exit, even after a failure.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import libvirt
from ansb_vm_image import ADMIN, CACHE, GUEST_ADDRESS, GUEST_MAC, HOST_ADDRESS, VmImage
from pyroute2 import IPRoute, netns

from lab.compute import daemons

RELAY = Path(__file__).with_name("ansb_nsrelay.py")
# A TCG boot until sshd answers: ~50 s on an idle host, ~190 s measured beside
# stress-ng on 2 cores (load ~10); the first login then costs 14-30 s (PAM
# starts user@1000, cold Python) against ~1 s for a command over the master.
BOOT_TIMEOUT_S = 600
ATTEMPT_TIMEOUT_S = 120
# Python is what Ansible needs; its blocking getrandom() also shows the guest's CRNG is seeded
PROBE = "python3 -c 'import os; os.getrandom(16)'"
# kvm_host reserves its default 512 hugepages (1 GiB); the guest needs room beside them
MEMORY_MIB = 1792


class SshWaitTimeout(TimeoutError):
    """The guest never answered over SSH; the message lists what each attempt saw."""


@dataclass
class RunningVm:
    name: str
    namespace: str
    image: VmImage
    console: Path
    tap: str  # the VM's NIC as seen from the namespace (the ToR's port in the VM tests)

    @property
    def control_path(self) -> Path:
        return self.console.parent / "ssh-master"

    def stop_ssh_master(self) -> None:
        """The persisting SSH master (and its relay) ends with the VM, not 5 minutes later."""
        if self.control_path.exists():
            subprocess.run(["ssh", "-o", f"ControlPath={self.control_path}", "-O", "exit",
                            f"{ADMIN}@{GUEST_ADDRESS}"], capture_output=True, timeout=10, check=False)

    def ssh_args(self) -> list[str]:
        return ["-o", f"ProxyCommand=nsenter --net=/run/netns/{self.namespace} "
                      f"{sys.executable} {RELAY} %h %p",
                "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                "-o", "ConnectTimeout=30"]

    def master_args(self) -> list[str]:
        """The SSH master Ansible uses too: one handshake (seconds on a TCG guest) for the whole module."""
        return ["-o", "ControlMaster=auto", "-o", "ControlPersist=300s", "-o", f"ControlPath={self.control_path}"]

    def ssh(self, command: str, *extra: str, timeout: float = 60, fresh: bool = False) -> subprocess.CompletedProcess:
        """Run a command as the admin; `fresh` logs in anew (authentication itself is under test)."""
        session = ["-o", "ControlMaster=no", "-o", "ControlPath=none"] if fresh else self.master_args()
        return subprocess.run(["ssh", *self.ssh_args(), *session, "-o", "BatchMode=yes", "-i", str(self.image.key),
                               *extra, f"{ADMIN}@{GUEST_ADDRESS}", command],
                              capture_output=True, text=True, timeout=timeout, check=False)

    def inventory_vars(self) -> dict:
        return {
            "ansible_host": GUEST_ADDRESS,
            "ansible_user": ADMIN,
            "ansible_ssh_private_key_file": str(self.image.key),
            "ansible_ssh_common_args": " ".join(
                f"'{a}'" if " " in a else a for a in self.ssh_args()),
            "ansible_python_interpreter": "/usr/bin/python3",
            # one SSH master per VM: a handshake costs a TCG guest seconds, and every task needs one
            "ansible_ssh_args": " ".join(self.master_args()),
            "ansible_ssh_retries": 3,  # a TCG guest under load is slow to answer
            "ansible_timeout": 120,
            "lab_apt_update": False,
            "baseline_mgmt_prefixes": [f"{HOST_ADDRESS}/32"],
        }


def _domain_xml(name: str, image: VmImage, overlay: Path, tap: str, console: Path) -> str:
    return f"""<domain type='qemu'>
  <name>{name}</name>
  <memory unit='MiB'>{MEMORY_MIB}</memory>
  <vcpu>1</vcpu>
  <!-- TCG's qemu64 offers an emulated AMD-V (svm); a cloud VM without nested
       virtualisation does not: neither does this one, so /dev/kvm cannot appear -->
  <cpu mode='custom' match='exact' check='none'>
    <model fallback='allow'>qemu64</model>
    <feature policy='disable' name='svm'/>
    <feature policy='disable' name='vmx'/>
  </cpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>{image.kernel}</kernel>
    <initrd>{image.initrd}</initrd>
    <cmdline>root=/dev/vda rw console=ttyS0 net.ifnames=0 systemd.show_status=0</cmdline>
  </os>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='{overlay}'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <interface type='ethernet'>
      <mac address='{GUEST_MAC}'/>
      <target dev='{tap}' managed='yes'/>
      <model type='virtio'/>
    </interface>
    <rng model='virtio'>
      <backend model='random'>/dev/urandom</backend>
    </rng>
    <serial type='file'>
      <source path='{console}'/>
      <target port='0'/>
    </serial>
  </devices>
</domain>"""


def _plug_tap(tap: str, namespace: str) -> None:
    """Move the VM's tap into our namespace and give the namespace its end address."""
    with IPRoute() as ipr:
        ipr.link("set", index=ipr.link_lookup(ifname=tap)[0], net_ns_fd=namespace)
    with IPRoute(netns=namespace) as ipr:
        idx = ipr.link_lookup(ifname=tap)[0]
        ipr.addr("add", index=idx, address=HOST_ADDRESS, prefixlen=24)
        ipr.link("set", index=idx, state="up")
        ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], state="up")


@dataclass(frozen=True)
class SshAttempt:
    """One probe of the wait: when it started, how long it took, how it ended."""

    at_s: float  # since the wait began
    elapsed_s: float
    rc: int | None  # None: no answer within the attempt's time (ssh was killed)
    stderr: str

    def __str__(self) -> str:
        end = f"rc={self.rc}" if self.rc is not None else "no answer (killed)"
        tail = " | ".join(self.stderr.strip().splitlines()[-2:])[-240:]
        return f"  +{self.at_s:5.0f} s  {end} after {self.elapsed_s:.1f} s  {tail}"


def _probe(vm: RunningVm, attempt_s: float, began: float) -> SshAttempt:
    started = time.monotonic()
    try:
        done = vm.ssh(PROBE, timeout=attempt_s)
        rc, stderr = done.returncode, done.stderr
    except subprocess.TimeoutExpired as slow:
        err = slow.stderr or b""
        rc, stderr = None, err.decode(errors="replace") if isinstance(err, bytes) else err
    return SshAttempt(round(started - began, 1), round(time.monotonic() - started, 1), rc, stderr)


def _guest_facts(console: Path) -> str:
    """What the guest's console says about the two usual suspects: boot progress and the CRNG."""
    text = console.read_text(errors="replace") if console.exists() else ""
    crng = [line for line in text.splitlines() if "crng init done" in line]
    seeded = f"CRNG seeded: {crng[-1].strip()}" if crng else "no 'crng init done' on the console yet"
    return f"{seeded}\nconsole (last 1500 characters):\n{text[-1500:]}"


def _wait_for_ssh(vm: RunningVm, deadline_s: float = BOOT_TIMEOUT_S,
                  attempt_s: float = ATTEMPT_TIMEOUT_S) -> list[SshAttempt]:
    """Probe until the admin can run Python over the SSH master Ansible will use.

    A probe that gets no answer in `attempt_s` is killed and tried again (the
    first login of a loaded TCG guest is slow, it is not a dead guest); only the
    overall deadline gives up, with every attempt and the console in the error.
    """
    began = time.monotonic()
    attempts: list[SshAttempt] = []
    while (left := deadline_s - (time.monotonic() - began)) > 0:
        attempts.append(_probe(vm, min(attempt_s, left), began))
        if attempts[-1].rc == 0:
            return attempts
        time.sleep(min(3.0, max(0.0, deadline_s - (time.monotonic() - began))))
    shown = attempts if len(attempts) <= 12 else [*attempts[:2], *attempts[-10:]]
    lines = "\n".join(map(str, shown))
    raise SshWaitTimeout(
        f"VM {vm.name} not reachable over SSH after {time.monotonic() - began:.0f} s "
        f"(deadline {deadline_s:g} s, {attempt_s:g} s per attempt); {len(attempts)} attempts"
        f"{' (first 2 and last 10 shown)' if shown is not attempts else ''}:\n{lines}\n"
        f"{_guest_facts(vm.console)}")


@contextmanager
def running_vm(image: VmImage) -> Iterator[RunningVm]:
    token = secrets.token_hex(3)
    name, namespace, tap = f"ansb-vm-{token}", f"ansb-{token}-vm", f"ansbt{token}"
    run_dir = CACHE / "runs" / name
    conn = domain = vm = None
    try:
        run_dir.mkdir(parents=True, mode=0o755)
        overlay = run_dir / "overlay.qcow2"
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(image.disk), "-F", "raw",
                        str(overlay)], check=True)
        conn = daemons.connect()  # starts libvirtd/virtlogd on a fresh machine
        netns.create(namespace)
        vm = RunningVm(name, namespace, image, run_dir / "console.log", tap)
        domain = conn.createXML(_domain_xml(name, image, overlay, tap, vm.console), 0)
        _plug_tap(tap, namespace)
        _wait_for_ssh(vm)
        yield vm
    finally:
        if vm is not None:
            vm.stop_ssh_master()
        if domain is not None:
            with suppress(libvirt.libvirtError):
                domain.destroy()
        if conn is not None:
            conn.close()
        with suppress(OSError):
            netns.remove(namespace)
        shutil.rmtree(run_dir, ignore_errors=True)


def tcp_open(vm: RunningVm, port: int) -> bool:
    """Can the namespace open a TCP connection to the VM's port? (bounded: 2 s)"""
    probe = subprocess.run(
        ["nsenter", f"--net=/run/netns/{vm.namespace}", sys.executable, "-c",
         f"import socket;socket.create_connection(('{GUEST_ADDRESS}',{port}),timeout=2)"],
        capture_output=True, timeout=10, check=False)
    return probe.returncode == 0

