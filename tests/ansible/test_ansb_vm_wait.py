"""The VM fixture's SSH wait, against namespaces that behave like a guest that
is not up yet (nothing listens) and one that is too slow to answer (a port that
accepts and stays silent): a slow attempt is retried, not fatal, and giving up
reports every attempt and what the console says. No VM is booted."""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
from contextlib import suppress

import pytest
from ansb_targets import need_root
from ansb_vm import RunningVm, SshWaitTimeout, _wait_for_ssh
from ansb_vm_image import GUEST_ADDRESS, VmImage
from pyroute2 import IPRoute, netns

pytestmark = pytest.mark.root
SILENT_PORT = """
import socket, time
s = socket.create_server(('{address}', 22))
held, end = [], time.monotonic() + 60
s.settimeout(1)
while time.monotonic() < end:  # accept and never speak: an sshd too slow to send its banner
    try:
        held.append(s.accept()[0])
    except TimeoutError:
        pass
"""


@pytest.fixture
def fake_guest(tmp_path):
    """A namespace holding the guest's address on its loopback, and a RunningVm aimed at it."""
    need_root()
    name = f"ansb-{secrets.token_hex(3)}-w"
    netns.create(name)
    try:
        with IPRoute(netns=name) as ipr:
            lo = ipr.link_lookup(ifname="lo")[0]
            ipr.link("set", index=lo, state="up")
            ipr.addr("add", index=lo, address=GUEST_ADDRESS, prefixlen=32)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "key")], check=True)
        console = tmp_path / "console.log"
        console.write_text("[    8.09] random: crng init done\n[   30.00] systemd[1]: Starting ssh.service\n")
        image = VmImage(tmp_path / "disk", tmp_path / "kernel", tmp_path / "initrd", tmp_path / "key")
        vm = RunningVm("ansb-vm-wait", name, image, console, "none")
        yield vm
        vm.stop_ssh_master()
    finally:
        with suppress(OSError):
            netns.remove(name)


def test_a_guest_not_listening_yet_is_retried_and_the_give_up_lists_each_attempt(fake_guest):
    started = time.monotonic()
    with pytest.raises(SshWaitTimeout) as failed:
        _wait_for_ssh(fake_guest, deadline_s=9, attempt_s=3)
    report = str(failed.value)
    assert time.monotonic() - started < 20
    assert report.count("rc=255") >= 2, report  # refused quickly, tried again
    assert "kex_exchange_identification" in report and "attempts" in report
    assert "CRNG seeded: [    8.09] random: crng init done" in report
    assert "Starting ssh.service" in report  # the console tail


def test_a_guest_too_slow_to_answer_is_killed_per_attempt_not_fatal(fake_guest):
    silent = subprocess.Popen(["nsenter", f"--net=/run/netns/{fake_guest.namespace}", sys.executable, "-c",
                               SILENT_PORT.format(address=GUEST_ADDRESS)])
    try:
        time.sleep(1)
        with pytest.raises(SshWaitTimeout) as failed:
            _wait_for_ssh(fake_guest, deadline_s=8, attempt_s=2.5)
    finally:
        silent.kill()
        silent.wait()
    report = str(failed.value)
    assert report.count("no answer (killed) after 2.") >= 2, report
    assert "rc=255" not in report, report
