"""The `vpn` role on real servers: site.yml runs it on the servers the
generated inventory places the plan's VPN gateway instances on, and it renders
the configs the embedded lab renders for the same instances (no VM: the
role's files go to a scratch directory through a local connection)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import yaml
from ansb_targets import need_root

from lab.model import load_topology
from lab.plan.planner import build_plan
from lab.providers.ansible.driver import PLAYBOOKS, run_playbook
from lab.providers.ansible.inventory import build_inventory, write_inventory
from lab.vpn.render import ends, swanctl_conf, wireguard_conf
from tests.fabric.helpers import ROOT

TOPOLOGY = ROOT / "topologies" / "vpn.yaml"
PSK = "PlantedIkePsk-31b7e0"
KEYS = {"gateway_private": "R2F0ZXdheVByaXZhdGVQbGFudGVkS2V5LTAwMDAwMDA=", "gateway_public": "unused",
        "site_private": "unused", "site_public": "U2l0ZVB1YmxpY0tleS0wMDAwMDAwMDAwMDAwMDAwMDA=",
        "preshared": "UHJlc2hhcmVkUGxhbnRlZC0wMDAwMDAwMDAwMDAwMDA="}


def _plan():
    topo = load_topology(TOPOLOGY)
    return topo, build_plan(topo)


def test_site_yml_runs_the_vpn_role_per_tunnel_on_the_vpn_group():
    plays = yaml.safe_load((PLAYBOOKS / "site.yml").read_text())
    play = next(p for p in plays if p["hosts"] == "vpn")
    include = play["tasks"][0]
    assert include["ansible.builtin.include_role"]["name"] == "vpn" and play["become"]
    assert include["loop"] == "{{ lab_vpn_tunnels }}" and include["loop_control"]["loop_var"] == "lab_vpn"


def test_inventory_places_a_pairs_instances_on_two_servers():
    topo, plan = _plan()
    vpn = build_inventory(plan)["all"]["children"]["vpn"]["hosts"]
    placed = {t["instance"]: (server, t) for server, hv in vpn.items() for t in hv["lab_vpn_tunnels"]}
    assert {i: s for i, (s, _) in placed.items()} == {"vpn.hq.1": "hv1", "vpn.hq.2": "hv2", "vpn.branch": "hv1"}
    _, active = placed["vpn.hq.1"]
    assert active["local_address"] == plan.host("hv1").underlay_ip and active["start_action"] == "start"
    assert active["remote_addresses"] == [plan.vpn("hq").site.public_address]
    assert placed["vpn.hq.2"][1]["start_action"] == "none"
    assert not any(k in active for k in ("psk", "private_key", "preshared_key"))


def _normalised(text: str) -> str:
    """What only the kernel data path changes: ESP without UDP encapsulation,
    the server's own address as the local end; the managed-by comment."""
    text = re.sub(r"^# .*\n", "", text, count=1)
    text = re.sub(r"local_addrs = \S+", "local_addrs = LOCAL", text)
    return text.replace("encap = yes", "encap = no")


def test_the_role_renders_what_the_embedded_lab_renders(tmp_path):
    need_root()  # the role writes root-owned 0600 files (into tmp_path)
    topo, plan = _plan()
    generated = write_inventory(plan, tmp_path / "inventory")
    local = {"ansible_connection": "local", "ansible_become": False, "vpn_manage_services": False,
             "ansible_python_interpreter": sys.executable}
    hosts = {h: {**local, "vpn_swanctl_dir": str(tmp_path / h), "vpn_wireguard_dir": str(tmp_path / h)}
             for h in ("tor", "hv1", "hv2")}
    user = tmp_path / "hosts.yml"
    user.write_text(yaml.safe_dump({"all": {"hosts": hosts, "vars": {"lab_vpn_secrets": {
        "hq": {"psk": PSK}, "branch": {k: v for k, v in KEYS.items() if k != "gateway_public"}}}}}))
    for h in ("hv1", "hv2"):
        (tmp_path / h).mkdir()
    result = run_playbook("site.yml", [user, generated], tmp_path / "state", tags=["vpn"], limit="vpn")
    assert result.rc == 0, result
    rendered = {p.relative_to(tmp_path).as_posix(): p.read_text() for p in tmp_path.glob("hv*/*.conf")}
    assert set(rendered) == {"hv1/hq.conf", "hv2/hq.conf", "hv1/wg-branch.conf"}
    hq, branch = plan.vpn("hq"), plan.vpn("branch")
    embedded = {e.host: e for v in (hq, branch) for e in ends(v, v.active.host)}
    assert _normalised(rendered["hv1/hq.conf"]) == _normalised(swanctl_conf(hq, embedded["vpn.hq.1"], PSK))
    assert _normalised(rendered["hv2/hq.conf"]) == _normalised(swanctl_conf(hq, embedded["vpn.hq.2"], PSK))
    assert f"local_addrs = {plan.host('hv2').underlay_ip}\n" in rendered["hv2/hq.conf"]
    assert _normalised(rendered["hv1/wg-branch.conf"]) == _normalised(
        wireguard_conf(branch, embedded["vpn.branch"], KEYS))
    artifacts = b"".join(p.read_bytes() for p in Path(result.artifact_dir).rglob("*") if p.is_file())
    assert PSK.encode() not in artifacts and KEYS["gateway_private"].encode() not in artifacts


@pytest.mark.parametrize("secrets", [{}, {"hq": {"psk": ""}}])
def test_a_tunnel_without_its_keys_fails_before_writing_anything(tmp_path, secrets):
    need_root()
    topo, plan = _plan()
    generated = write_inventory(plan, tmp_path / "inventory")
    local = {"ansible_connection": "local", "ansible_become": False, "vpn_manage_services": False,
             "ansible_python_interpreter": sys.executable, "vpn_swanctl_dir": str(tmp_path),
             "vpn_wireguard_dir": str(tmp_path)}
    user = tmp_path / "hosts.yml"
    user.write_text(yaml.safe_dump({"all": {"hosts": {h: local for h in ("tor", "hv1", "hv2")},
                                            "vars": {"lab_vpn_secrets": secrets}}}))
    result = run_playbook("site.yml", [user, generated], tmp_path / "state", tags=["vpn"], limit="hv2")
    assert result.rc != 0 and not list(tmp_path.glob("*.conf"))
    message = result.hosts["hv2"].failures[0].message
    assert "VPN hq: no keys for it in lab_vpn_secrets" in message, message
