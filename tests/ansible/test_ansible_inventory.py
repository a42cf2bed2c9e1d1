"""Inventory generation from the topology, and bad input caught before any change."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import yaml
from ansb_targets import topology
from ansible.parsing.vault import VaultLib, VaultSecret

from lab.plan.planner import build_plan
from lab.providers.ansible import ProvisionError, provision
from lab.providers.ansible.inventory import build_inventory, host_problems


def _inventory(tmp_path: Path, hosts: dict[str, dict]) -> Path:
    path = tmp_path / "hosts.yml"
    path.write_text(yaml.safe_dump({"all": {"hosts": hosts}}))
    return path


def _no_run_happened(state: Path) -> bool:
    artifacts = state / "artifacts"
    return not artifacts.exists() or not any(p.name.startswith("site") for p in artifacts.iterdir())


def test_inventory_groups_and_host_vars_follow_the_topology():
    topo = topology(rdma=True)
    inv = build_inventory(build_plan(topo))["all"]
    tor = inv["children"]["tor"]["hosts"]["tor"]
    servers = inv["children"]["servers"]["children"]
    hv1 = servers["compute"]["hosts"]["hv1"]
    assert set(servers["mux"]["hosts"]) == {"mux1"}
    assert hv1["lab_underlay_ip"] == "198.18.0.11"
    assert hv1["lab_nics"][0] == {"name": "eth0", "speed_gbps": 25, "rdma": True}
    assert hv1["lab_plan_host"] == "hv1"
    assert "hv1" in {h["name"] for h in inv["vars"]["lab_plan"]["hosts"]}
    assert {n["name"]: n["role"] for n in tor["lab_tor_bgp_neighbors"]} == {"hv1": "compute", "mux1": "mux"}
    assert tor["lab_tor_interfaces"][0]["address"] == "198.18.0.1/24"
    assert inv["vars"]["lab_underlay_mtu"] == 9000


def test_the_tor_role_sets_the_routing_sysctls_the_plan_gives_the_embedded_tor():
    """A real ToR forwards and hashes ECMP by L4 ports like the embedded one
    (the FRR config both render comes from the role's one template)."""
    from lab.lb import frr
    from lab.model import load_topology

    role = frr.PLAYBOOKS / "roles" / "tor"
    defaults = yaml.safe_load((role / "defaults" / "main.yml").read_text())
    plan = build_plan(load_topology(frr.PLAYBOOKS.parent / "topologies" / "mux-pool.yaml"))
    tor = next(h for h in plan.hosts if h.role == "tor")
    for key in ("net.ipv4.ip_forward", "net.ipv4.fib_multipath_hash_policy"):
        assert str(defaults["tor_sysctls"][key]) == tor.sysctls[key] == "1", key
    assert frr.TOR_TEMPLATE == role / "templates" / "frr.conf.j2"
    tasks = yaml.safe_load((role / "tasks" / "main.yml").read_text())
    assert any(t.get("ansible.builtin.template", {}).get("src") == frr.TOR_TEMPLATE.name for t in tasks)


def test_host_problems_name_extra_and_missing_hosts():
    problems = host_problems(build_plan(topology()), {"tor", "hv1", "hv9"})
    assert any("'hv9' is not a server" in p for p in problems)
    assert any("'mux1' has no host in the inventory" in p for p in problems)


def test_inventory_hosts_not_in_topology_stop_the_run_before_any_change(tmp_path, monkeypatch):
    inventory = _inventory(tmp_path, {"tor": {}, "hv1": {}, "hv9": {}})
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # where runner's own directories would go
    with pytest.raises(ProvisionError) as err:
        provision(build_plan(topology()), inventory, tmp_path / "state")
    text = str(err.value)
    assert "'hv9' is not a server" in text and "'mux1' has no host" in text
    assert _no_run_happened(tmp_path / "state")
    assert list(scratch.iterdir()) == []  # reading the inventory leaves no directory behind


def test_vault_encrypted_inventory_without_password_is_refused(tmp_path):
    inventory = _inventory(tmp_path, {"tor": {}, "hv1": {}, "mux1": {}})
    vault = VaultLib([("default", VaultSecret(b"not-given-to-the-run"))])
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "all.yml").write_bytes(vault.encrypt("baseline_secrets: {bmc: x}\n"))
    with pytest.raises(ProvisionError) as err:
        provision(build_plan(topology()), inventory, tmp_path / "state", vault_password_file=None)
    assert "no vault password was given" in str(err.value)
    assert _no_run_happened(tmp_path / "state")


def test_missing_vault_password_file_is_refused(tmp_path):
    inventory = _inventory(tmp_path, {"tor": {}, "hv1": {}, "mux1": {}})
    with pytest.raises(ProvisionError, match="vault password file .* does not exist"):
        provision(build_plan(topology()), inventory, tmp_path / "state",
                  vault_password_file=tmp_path / "absent")


def test_unreachable_hosts_stop_the_run_before_any_change(tmp_path):
    gone = {"ansible_connection": "stacklab.lab.netns", "ansible_host": "ansb-absent-ns"}
    inventory = _inventory(tmp_path, {"tor": gone, "hv1": gone, "mux1": gone})
    with pytest.raises(ProvisionError) as err:
        provision(build_plan(topology()), inventory, tmp_path / "state")
    text = str(err.value)
    for host in ("tor", "hv1", "mux1"):
        assert f"host '{host}' is unreachable" in text
    assert "ansb-absent-ns" in text
    assert _no_run_happened(tmp_path / "state")
