"""`lab up --provider ansible` for real on a Debian VM: baseline, kvm_host,
rdma_nic (no RDMA claimed) and lab_agent (stacklab installed offline from the
bundle the driver builds, then the plan applied by the same appliers).

The VM is built only from Debian packages (debootstrap + apt in the image:
the roles' packages are preinstalled, the VM has no route out) and booted
under libvirt TCG with its NIC in a lab namespace; that namespace is the
ToR (a netns target) and the VM is server hv1, reached over SSH with a
generated key. The runs are limited to hv1: the ToR role runs against
namespaces in test_ansible_roles_netns. One VM for the whole module: a TCG
guest is slow (each task is a Python start there), so everything shares two
`lab up` runs.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from ansb_targets import SECRET, need_root, vault_secret
from ansb_vm import running_vm, tcp_open
from ansb_vm_image import ADMIN, ADMIN_PASSWORD, build
from test_ansible_roles_netns import files_containing

from lab.model import parse_topology
from lab.plan.planner import build_plan
from lab.providers.ansible import deprovision, provision
from lab.providers.ansible.driver import PLAYBOOKS
from lab.providers.ansible.wheelhouse import CONTROLLER_ONLY
from lab.providers.ansible.wheelhouse import build as build_bundle

pytestmark = [pytest.mark.root, pytest.mark.slow]

# The VM's namespace is the ToR (198.18.1.1, the planner's ToR address); hv1 gets .11.
TOPOLOGY = """
name: ansbvm
underlay: {subnet: 198.18.1.0/24, mtu: 9000}
servers:
  - {name: hv1, role: compute, nics: [{name: eth0}]}
tenants:
  - {name: red, vni: 1001, subnets: [{name: web, prefix: 100.64.1.0/24}]}
vms:
  - {name: red-web1, tenant: red, subnet: web, server: hv1, kind: netns, address: 100.64.1.10}
"""
AGENT = "sudo /opt/stacklab/venv/bin/python -m lab.providers.ansible.agent apply-host --plan /etc/stacklab/plan.json"
LINKS = """python3 -c "
import json; from pyroute2 import IPRoute
with IPRoute() as ipr:
    out = {}
    for link in ipr.get_links():
        info = link.get_attr('IFLA_LINKINFO'); data = info.get_attr('IFLA_INFO_DATA') if info else None
        addrs = [a.get_attr('IFA_ADDRESS') for a in ipr.get_addr(index=link['index'])]
        out[link.get_attr('IFLA_IFNAME')] = {'mtu': link.get_attr('IFLA_MTU'), 'addrs': addrs,
            'vni': data.get_attr('IFLA_VXLAN_ID') if data and info.get_attr('IFLA_INFO_KIND') == 'vxlan' else None,
            'local': data.get_attr('IFLA_VXLAN_LOCAL') if data and info.get_attr('IFLA_INFO_KIND') == 'vxlan' else None}
    print(json.dumps(out))"
"""


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
                  "-o", "PubkeyAuthentication=no", timeout=30, fresh=True)
    return done.stderr


def _tor_vars(files: Path) -> dict:
    """The ToR is the VM's namespace: it shares this machine's files and init."""
    hostkey = files / "ssh_host_ed25519_key"  # for `sshd -t` on the rendered config
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(hostkey)], check=True)
    return {
        "ansible_connection": "stacklab.lab.netns",
        "ansible_python_interpreter": sys.executable,
        "baseline_manage_services": False,
        "baseline_nft_persist": False,
        "baseline_sshd_config_path": f"{files}/sshd_config",
        "baseline_ssh_host_keys": [str(hostkey)],
        "baseline_nft_path": f"{files}/stacklab.nft",
        "baseline_secrets_dir": f"{files}/secrets",
        "baseline_secrets_owner": "root",
        "baseline_audit_rules_path": f"{files}/audit.rules",
        "tor_manage_services": False,
        "tor_frr_conf_path": f"{files}/frr.conf",
        "tor_nft_path": f"{files}/acl.nft",
    }


@pytest.fixture(scope="module")
def lab_up(vm, tmp_path_factory):
    """`lab up --provider ansible` twice: the first converges, the second must change nothing."""
    directory = tmp_path_factory.mktemp("ansb-vm")
    before = _password_attempt(vm)
    inventory = directory / "inventory" / "hosts.yml"
    (directory / "tor").mkdir()
    inventory.parent.mkdir()
    hosts = {"tor": {"ansible_host": vm.namespace, **_tor_vars(directory / "tor")}, "hv1": vm.inventory_vars()}
    inventory.write_text(yaml.safe_dump({"all": {"hosts": hosts}}))
    password = vault_secret(inventory.parent, {"baseline_secrets": {"bmc_password": SECRET}})
    state = directory / "state"
    plan = build_plan(parse_topology(TOPOLOGY))
    # what provision builds from the checkout (cached by its inputs), built once: both runs
    # ship the same bundle even if someone edits the checkout meanwhile
    bundle = build_bundle()
    # hv1 only: the ToR namespace shares this machine's packages, users and init (its role
    # runs against namespaces in test_ansible_roles_netns); preflight still checks both hosts
    runs = [provision(plan, inventory, state, vault_password_file=password, ping=ping,
                      tor_underlay_if=vm.tap, limit="hv1", bundle=bundle) for ping in (True, False)]
    return {"plan": plan, "inventory": inventory, "password": password, "state": state, "bundle": bundle,
            "before": before, "first": runs[0], "second": runs[1]}


def test_lab_up_converges_then_changes_nothing(lab_up):
    first, second = lab_up["first"], lab_up["second"]
    assert first.succeeded, first.to_json()
    assert first.hosts["hv1"].changed > 0
    assert second.succeeded, second.to_json()
    assert {h: r.changed for h, r in second.hosts.items()} == {"hv1": 0}, \
        {h: r.changed_tasks for h, r in second.hosts.items()}


def test_password_login_offered_before_and_refused_after(lab_up, vm):
    assert "password" in lab_up["before"].split("Permission denied")[-1], lab_up["before"]  # stock Debian
    after = _password_attempt(vm)
    assert "Permission denied (publickey)" in after, after
    assert vm.ssh("true", fresh=True).returncode == 0  # the admin's key still logs in


def test_root_login_refused(lab_up, vm):
    effective = vm.ssh("sudo sshd -T").stdout
    assert "permitrootlogin no" in effective and "passwordauthentication no" in effective


def test_service_user_is_unprivileged_with_only_its_sudo_rights(lab_up, vm):
    passwd, rights = vm.ssh("getent passwd lab; echo ---; sudo -l -U lab").stdout.split("---\n")
    assert passwd.strip().split(":")[0] == "lab" and passwd.strip().endswith(":/usr/sbin/nologin")
    granted = [line.strip() for line in rights.split("may run the following commands")[1].splitlines()[1:]
               if line.strip()]
    # only the agent's entry point, and it exists (a right to a missing command is a trap)
    assert granted == ["(root) NOPASSWD: /opt/stacklab/venv/bin/python -m lab.providers.ansible.agent apply-host *"], \
        rights
    assert vm.ssh("test -x /opt/stacklab/venv/bin/python").returncode == 0
    assert vm.ssh("sudo -u lab sudo -n /bin/true").returncode != 0


def test_only_ssh_listens_publicly_and_default_deny_holds(lab_up, vm):
    lines = [line.split() for line in vm.ssh("ss -H -tuln").stdout.splitlines() if line.strip()]
    public = {(cols[0], cols[4].rsplit(":", 1)[1]) for cols in lines
              if len(cols) > 4 and not cols[4].startswith(("127.", "[::1]"))}
    # no legacy/cleartext service listens (libvirtd: unix sockets only); udp/4789 is the
    # kernel's socket of the lab's VXLAN device, allowed from the underlay only
    assert public - {("udp", "4789")} == {("tcp", "22")}, lines
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


def test_auditd_runs_with_the_baseline_rules(lab_up, vm):
    assert vm.ssh("sudo systemctl is-active auditd").stdout.strip() == "active"
    assert "stacklab-sshd" in vm.ssh("sudo auditctl -l").stdout


def test_secret_is_0600_for_the_service_user_and_never_in_artifacts(lab_up, vm):
    stat = vm.ssh("sudo stat -c '%a %U' /etc/stacklab/secrets/bmc_password").stdout.split()
    assert stat == ["600", "lab"]
    assert vm.ssh("sudo cat /etc/stacklab/secrets/bmc_password").stdout == SECRET
    assert files_containing(lab_up["state"], SECRET) == []
    assert files_containing(lab_up["state"], ADMIN_PASSWORD) == []
    assert ADMIN  # the admin logs in with its key only


def test_libvirtd_runs_without_idle_exit_and_answers(lab_up, vm):
    assert vm.ssh("systemctl is-active libvirtd").stdout.strip() == "active"
    assert vm.ssh("systemctl is-enabled libvirtd").stdout.strip() == "enabled"
    assert 'LIBVIRTD_ARGS=""' in vm.ssh("cat /etc/default/libvirtd").stdout  # no --timeout 120
    version = vm.ssh("sudo virsh -c qemu:///system version", timeout=120).stdout
    assert "Running hypervisor: QEMU" in version, version


def _default_hugepages() -> int:
    text = (PLAYBOOKS / "roles" / "kvm_host" / "defaults" / "main.yml").read_text()
    return int(re.search(r"^kvm_host_hugepages: .*default\((\d+)\)", text, re.M).group(1))


def test_hugepages_reserved_as_the_role_defaults_say(lab_up, vm):
    wanted = _default_hugepages()
    sysctl, meminfo, persisted = vm.ssh("cat /proc/sys/vm/nr_hugepages; echo ---; grep HugePages_Total "
                                        "/proc/meminfo; echo ---; cat /etc/sysctl.d/60-stacklab-kvm.conf"
                                        ).stdout.split("---\n")
    assert sysctl.strip() == str(wanted)
    assert meminfo.split()[-1] == str(wanted)
    assert f"vm.nr_hugepages = {wanted}" in persisted


def _artifact_text(run) -> str:
    return (Path(run.artifact_dir) / "stdout").read_text(errors="replace")


def test_kvm_report_tells_what_the_tcg_guest_really_has(lab_up, vm):
    flags = set(vm.ssh("grep -m1 '^flags' /proc/cpuinfo").stdout.split(":", 1)[1].split())
    has_kvm = vm.ssh("test -e /dev/kvm").returncode == 0
    report = json.loads(vm.ssh("cat /etc/stacklab/kvm.json").stdout)
    assert report["kvm"] is has_kvm is False  # a TCG guest: no /dev/kvm
    assert report["accel"] == "tcg"
    assert report["cpu_extension"] == ("vmx" if "vmx" in flags else "svm" if "svm" in flags else "none")
    assert report["hypervisor"] is ("hypervisor" in flags)
    assert report["nested"] is False
    assert "guests will run under TCG" in report["reason"]
    assert "hv1: accel TCG: /dev/kvm absent" in _artifact_text(lab_up["first"])


def test_kvm_demanded_on_a_tcg_guest_fails_that_host_clearly(lab_up):
    """Fault: the inventory demands KVM of a host that has none -> hv1 fails, saying why."""
    result = provision(lab_up["plan"], lab_up["inventory"], lab_up["state"],
                       vault_password_file=lab_up["password"], ping=False, bundle=False, limit="hv1",
                       tags=["kvm"], extravars={"kvm_host_require_kvm": True})
    assert result.hosts["hv1"].status == "failed"
    message = result.hosts["hv1"].failures[0].message
    assert "hv1: the inventory demands KVM" in message and "guests will run under TCG" in message


def test_rdma_nic_says_nothing_is_claimed_and_changes_nothing(lab_up):
    text = _artifact_text(lab_up["first"])
    assert "hv1: no NIC is marked rdma: true in the topology; RDMA is left alone" in text
    assert not [t for t in lab_up["first"].hosts["hv1"].changed_tasks if "RDMA" in t or "RoCE" in t]


def _name_version(dist_info: str) -> tuple[str, str]:
    """pydantic_core-2.50.4.dist-info -> (pydantic-core, 2.50.4)"""
    name, version = dist_info.removesuffix(".dist-info").rsplit("-", 1)
    return name.lower().replace("_", "-"), version


def test_stacklab_is_installed_offline_from_the_bundle_without_controller_tools(lab_up, vm):
    bundle = lab_up["bundle"]
    site = vm.ssh("sudo ls /opt/stacklab/venv/lib/python3.11/site-packages").stdout.split()
    installed = dict(_name_version(d) for d in site if d.endswith(".dist-info"))
    assert installed.get("stacklab") == bundle.version, site
    assert set(installed) == {pin.split("==")[0] for pin in bundle.distributions}
    assert not set(installed) & CONTROLLER_ONLY  # no ansible, numpy, scipy, matplotlib on a host
    assert vm.ssh("test -f /opt/stacklab/collectors/reach.py").returncode == 0


def test_the_agent_applied_the_hosts_plan_in_the_guest(lab_up, vm):
    links = json.loads(vm.ssh(LINKS, timeout=120).stdout)
    assert links["eth0"]["mtu"] == 9000 and "198.18.1.11" in links["eth0"]["addrs"]
    assert links["vx1001"]["vni"] == 1001 and links["vx1001"]["local"] == "198.18.1.11"
    assert "br1001" in links
    applied = [t for t in lab_up["first"].hosts["hv1"].changed_tasks if "stacklab appliers" in t]
    assert applied, lab_up["first"].hosts["hv1"].changed_tasks


def test_the_agent_on_the_guest_sees_nothing_to_do_and_refuses_bad_input(lab_up, vm):
    dry = vm.ssh(f"{AGENT} --host hv1 --dry-run --format json", timeout=180)
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["changed"] == 0
    bad = vm.ssh(f"{AGENT} --host hv9 --format json", timeout=180)
    assert bad.returncode == 2 and "--host 'hv9' is not in the plan; hosts: " in bad.stderr
    assert "hv1" in bad.stderr.split("hosts: ")[1]


def test_lab_down_removes_the_plan_state_from_the_guest(lab_up, vm):
    result = deprovision(lab_up["plan"], lab_up["inventory"], lab_up["state"],
                         vault_password_file=lab_up["password"], ping=False, limit="hv1")
    assert result.succeeded, result.to_json()
    links = json.loads(vm.ssh(LINKS, timeout=120).stdout)
    assert not {"br1001", "vx1001"} & set(links)
    assert vm.ssh("test -e /etc/stacklab/plan.json").returncode != 0
