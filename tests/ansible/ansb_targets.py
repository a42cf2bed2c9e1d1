"""Disposable targets for the Ansible roles: network namespaces made with pyroute2.

Namespaces are named ansb-<random>-<host> so parallel runs and other areas'
tests never collide; they are removed even when a test fails.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from ansible.parsing.vault import VaultLib, VaultSecret
from pyroute2 import IPRoute, netns

from lab.model import parse_topology
from lab.model.topology import Topology

UNDERLAY = "198.18.0.0/24"
# The secret the roles must never print: grepped for in every runner artifact.
SECRET = "bmc-" + secrets.token_hex(12)

TOPOLOGY = """
name: ansb
underlay: {subnet: 198.18.0.0/24, mtu: 9000}
servers:
  - {name: hv1, role: compute, nics: [{name: eth0, rdma: RDMA}]}
  - {name: mux1, role: mux, nics: [{name: eth0}]}
tenants:
  - {name: red, vni: 1001, subnets: [{name: web, prefix: 100.64.1.0/24}]}
vms:
  - {name: red-web1, tenant: red, subnet: web, server: hv1, kind: netns, address: 100.64.1.10}
"""


def need_root() -> None:
    """Skip without root outside CI; in CI a missing capability must fail loudly."""
    if os.geteuid() != 0:
        if os.environ.get("CI"):
            pytest.fail("Ansible namespace tests need root in CI")
        pytest.skip("needs root (network namespaces)")


def topology(rdma: bool = False) -> Topology:
    return parse_topology(TOPOLOGY.replace("RDMA", "true" if rdma else "false"))


@dataclass
class NetnsLab:
    prefix: str
    namespaces: dict[str, str]  # topology host -> namespace
    addresses: dict[str, str]  # topology host -> underlay address

    def run(self, host: str, *argv: str, timeout: float = 10) -> subprocess.CompletedProcess:
        """Run a command inside a host's namespace (for checks, not for configuration)."""
        return subprocess.run(["nsenter", f"--net=/run/netns/{self.namespaces[host]}", *argv],
                              capture_output=True, text=True, timeout=timeout, check=False)

    def mtu(self, host: str, ifname: str) -> int:
        with IPRoute(netns=self.namespaces[host]) as ipr:
            return ipr.get_links(ipr.link_lookup(ifname=ifname)[0])[0].get_attr("IFLA_MTU")


def build_lab(prefix: str) -> NetnsLab:
    names = {h: f"{prefix}-{h}" for h in ("tor", "hv1", "mux1")}
    addresses = {"tor": "198.18.0.1", "hv1": "198.18.0.11", "mux1": "198.18.0.12"}
    for ns in names.values():
        netns.create(ns)
    with IPRoute(netns=names["tor"]) as tor:
        tor.link("add", ifname="underlay", kind="bridge")
        bridge = tor.link_lookup(ifname="underlay")[0]
        for host in ("hv1", "mux1"):
            port = f"u-{host}"
            tor.link("add", ifname=port, kind="veth", mtu=9000,
                     peer={"ifname": "eth0", "net_ns_fd": names[host]})
            idx = tor.link_lookup(ifname=port)[0]
            tor.link("set", index=idx, master=bridge, state="up")
        tor.addr("add", index=bridge, address=addresses["tor"], prefixlen=24)
        tor.link("set", index=bridge, state="up")
    for host in ("hv1", "mux1"):
        with IPRoute(netns=names[host]) as ipr:
            idx = ipr.link_lookup(ifname="eth0")[0]
            ipr.link("set", index=idx, mtu=1500, state="up")
            ipr.addr("add", index=idx, address=addresses[host], prefixlen=24)
            lo = ipr.link_lookup(ifname="lo")[0]
            ipr.link("set", index=lo, state="up")
    return NetnsLab(prefix, names, addresses)


def remove_namespaces(prefix: str) -> None:
    """Remove every ansb namespace of this run; retried, then checked (no residue)."""
    for _attempt in range(3):
        left = [ns for ns in os.listdir("/run/netns") if ns.startswith(prefix + "-")]
        for ns in left:
            try:
                netns.remove(ns)
            except OSError:
                pass
        if not left:
            return
        time.sleep(0.2)
    raise AssertionError(f"namespaces left behind: {left}")


def write_inventory(lab: NetnsLab, directory: Path, overrides: dict | None = None) -> tuple[Path, Path]:
    """The user's inventory for namespace targets, with a vault-encrypted secret.

    Files the roles write go under `directory/<host>/`: the targets share this
    machine's filesystem, only their network namespace is their own.
    """
    directory.mkdir(parents=True, exist_ok=True)
    files = directory / "files"
    hostkey = files / "ssh_host_ed25519_key"
    if not hostkey.exists():
        files.mkdir(exist_ok=True)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(hostkey)], check=True)
    common = {
        "ansible_connection": "stacklab.lab.netns",
        "ansible_python_interpreter": sys.executable,
        "baseline_manage_services": False,
        "baseline_nft_persist": False,
        "baseline_sshd_config_path": f"{files}/{{{{ inventory_hostname }}}}/sshd_config",
        "baseline_ssh_host_keys": [str(hostkey)],
        "baseline_nft_path": f"{files}/{{{{ inventory_hostname }}}}/stacklab.nft",
        "baseline_secrets_dir": f"{files}/{{{{ inventory_hostname }}}}/secrets",
        "baseline_secrets_owner": "root",
        "baseline_audit_rules_path": f"{files}/{{{{ inventory_hostname }}}}/audit.rules",
        "tor_manage_services": False,
        "tor_frr_conf_path": f"{files}/tor/frr.conf",
        "tor_nft_path": f"{files}/tor/acl.nft",
        "tor_sysctl_file": f"{files}/tor/sysctl.conf",
        "kvm_host_manage_services": False,
        "lab_agent_install": False,
        # the lead's `lab apply-host` here (the VM runs the role's default, the light agent entry)
        "lab_agent_apply_cmd": [str(Path(sys.executable).parent / "lab")],
        "kvm_host_report_path": f"{files}/{{{{ inventory_hostname }}}}/kvm.json",
        "lab_agent_plan_path": f"{files}/{{{{ inventory_hostname }}}}/plan.json",
        "lab_agent_owner": "root",
        **(overrides or {}),
    }
    hosts = {h: {"ansible_host": ns} for h, ns in lab.namespaces.items()}
    inventory = directory / "hosts.yml"
    inventory.write_text(yaml.safe_dump({"all": {"hosts": hosts, "vars": common}}))
    for host in lab.namespaces:
        (files / host).mkdir(parents=True, exist_ok=True)
    password = vault_secret(directory, {"baseline_secrets": {"bmc_password": SECRET}})
    return inventory, password


def vault_secret(inventory_dir: Path, data: dict) -> Path:
    """Encrypt data into inventory_dir/group_vars/all/vault.yml; return the password file."""
    password = inventory_dir / "vault-pass"
    password.write_text(secrets.token_hex(16) + "\n")
    password.chmod(0o600)
    vault = VaultLib([("default", VaultSecret(password.read_text().strip().encode()))])
    vars_dir = inventory_dir / "group_vars" / "all"
    vars_dir.mkdir(parents=True, exist_ok=True)
    (vars_dir / "vault.yml").write_bytes(vault.encrypt(yaml.safe_dump(data)))
    return password
