"""The baseline's package, service, user and SSH parts, for real on a Debian VM.

The VM is built only from Debian packages (debootstrap) and booted under
libvirt with its NIC in a lab namespace; Ansible reaches it over SSH with a
generated key. Slow: the image build takes minutes (cached afterwards).
"""

from __future__ import annotations

import os

import pytest
import yaml
from ansb_targets import SECRET, need_root, vault_secret
from ansb_vm import running_vm, tcp_open
from ansb_vm_image import ADMIN, ADMIN_PASSWORD, build
from test_ansible_roles_netns import files_containing

from lab.providers.ansible.driver import run_playbook

pytestmark = [pytest.mark.root, pytest.mark.slow]


@pytest.fixture(scope="module")
def vm():
    need_root()
    if not os.path.exists("/usr/sbin/debootstrap"):
        pytest.fail("debootstrap is missing: run scripts/install-deps.sh")
    with running_vm(build()) as machine:
        yield machine


def _password_attempt(vm) -> str:
    """A password-only login attempt; the server's answer lists the methods it allows."""
    done = vm.ssh("true", "-o", "PreferredAuthentications=password,keyboard-interactive",
                  "-o", "PubkeyAuthentication=no", timeout=30)
    return done.stderr


@pytest.fixture(scope="module")
def hardened(vm, tmp_path_factory):
    directory = tmp_path_factory.mktemp("ansb-vm")
    before = _password_attempt(vm)
    inventory = directory / "inventory" / "hosts.yml"
    inventory.parent.mkdir()
    inventory.write_text(yaml.safe_dump({"all": {"hosts": {"hv1": vm.inventory_vars()}}}))
    password = vault_secret(inventory.parent, {"baseline_secrets": {"bmc_password": SECRET}})
    state = directory / "state"
    first = run_playbook("baseline.yml", [inventory], state, vault_password_file=password)
    second = run_playbook("baseline.yml", [inventory], state, vault_password_file=password)
    return state, before, first, second


def test_baseline_converges_then_changes_nothing(hardened):
    _, _, first, second = hardened
    assert first.succeeded, first.to_json()
    assert first.hosts["hv1"].changed > 0
    assert second.succeeded, second.to_json()
    assert second.hosts["hv1"].changed == 0, second.hosts["hv1"].changed_tasks


def test_password_login_offered_before_and_refused_after(hardened, vm):
    before = hardened[1]
    assert "password" in before.split("Permission denied")[-1], before  # stock Debian: offered
    after = _password_attempt(vm)
    assert "Permission denied (publickey)" in after, after
    assert vm.ssh("true").returncode == 0  # the admin's key still works


def test_root_login_refused(hardened, vm):
    effective = vm.ssh("sudo sshd -T").stdout
    assert "permitrootlogin no" in effective and "passwordauthentication no" in effective


def test_service_user_is_unprivileged_with_only_its_sudo_rights(hardened, vm):
    passwd = vm.ssh("getent passwd lab").stdout.strip().split(":")
    assert passwd[0] == "lab" and passwd[-1] == "/usr/sbin/nologin"
    rights = vm.ssh("sudo -l -U lab").stdout
    assert "/opt/stacklab/venv/bin/lab apply-host *" in rights
    assert "(ALL) ALL" not in rights and "(ALL : ALL) ALL" not in rights
    assert vm.ssh("sudo -u lab sudo -n /bin/true").returncode != 0


def test_only_ssh_listens_and_default_deny_holds(hardened, vm):
    lines = [line.split() for line in vm.ssh("ss -H -tuln").stdout.splitlines() if line.strip()]
    local = [cols[4] for cols in lines if len(cols) > 4]
    public = {addr.rsplit(":", 1)[1] for addr in local
              if not addr.startswith(("127.", "[::1]"))}
    assert public == {"22"}, local  # no legacy/cleartext service listens
    ruleset = vm.ssh("sudo nft list table inet stacklab").stdout
    assert "hook input priority filter; policy drop;" in ruleset
    # fault: a listener on a port the lab does not allow answers locally, not from the lab network
    vm.ssh("sudo sh -c 'nohup python3 -m http.server 8080 >/dev/null 2>&1 & echo $! > /run/ansb-http.pid'")
    try:
        local_get = "python3 -c \"import urllib.request;urllib.request.urlopen('http://127.0.0.1:8080/')\""
        assert vm.ssh(f"sleep 2; {local_get}").returncode == 0
        assert not tcp_open(vm, 8080)
    finally:
        vm.ssh("sudo sh -c 'kill $(cat /run/ansb-http.pid)'")


def test_auditd_runs_with_the_baseline_rules(hardened, vm):
    assert vm.ssh("sudo systemctl is-active auditd").stdout.strip() == "active"
    assert "stacklab-sshd" in vm.ssh("sudo auditctl -l").stdout


def test_secret_is_0600_for_the_service_user_and_never_in_artifacts(hardened, vm):
    stat = vm.ssh("sudo stat -c '%a %U' /etc/stacklab/secrets/bmc_password").stdout.split()
    assert stat == ["600", "lab"]
    assert vm.ssh("sudo cat /etc/stacklab/secrets/bmc_password").stdout == SECRET
    assert files_containing(hardened[0], SECRET) == []
    assert files_containing(hardened[0], ADMIN_PASSWORD) == []
    assert ADMIN  # the admin logs in with its key only
