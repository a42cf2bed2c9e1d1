"""`lab up/down --provider ansible`: bad input is reported before anything runs."""

from __future__ import annotations

import inspect
import json

import pytest
from typer.testing import CliRunner

from lab.cli import app

from .helpers import DEFAULT


def test_inventory_that_does_not_match_the_topology_exits_2_listing_every_problem(tmp_path):
    inventory = tmp_path / "hosts.ini"
    inventory.write_text("[servers]\nnothere ansible_host=198.18.0.11\n")
    result = CliRunner().invoke(app, ["up", str(DEFAULT), "--provider", "ansible", "-i", str(inventory)])
    assert result.exit_code == 2
    out = " ".join(result.output.split())
    assert "nothing was changed" in out and "inventory host 'nothere' is not a server" in out
    assert "topology host 'hv1' has no host in the inventory" in out


def test_provider_flags_are_checked():
    runner = CliRunner()
    assert runner.invoke(app, ["up", str(DEFAULT), "--provider", "ansible"]).exit_code == 2
    assert runner.invoke(app, ["up", str(DEFAULT), "--provider", "cloud"]).exit_code == 2
    assert runner.invoke(app, ["down", "--lab", "demo", "--provider", "ansible", "-i", "x"]).exit_code == 2


def test_both_providers_are_one_interface_selected_by_name():
    from lab import providers
    from lab.providers.ansible.provider import AnsibleProvider
    from lab.providers.embedded_lab import EmbeddedProvider

    chosen = {name: providers.select(name) for name in providers.NAMES}
    assert isinstance(chosen["embedded"], EmbeddedProvider) and chosen["embedded"].local
    assert isinstance(chosen["ansible"], AnsibleProvider) and not chosen["ansible"].local
    for provider in chosen.values():
        assert all(callable(getattr(provider, verb)) for verb in ("up", "down", "status"))
    with pytest.raises(ValueError, match="cloud"):
        providers.select("cloud")


def test_up_with_ansible_hands_the_provider_the_plan_of_the_topology(tmp_path, monkeypatch):
    from lab.providers.ansible import provider

    seen = {}

    class Result:
        succeeded = True

        def to_json(self):
            return {"playbook": "site.yml"}

    def provision(plan, inventory, state_dir, **options):
        seen.update(lab=plan.lab, hosts=len(plan.hosts), state_dir=state_dir, check=options["check"])
        return Result()

    monkeypatch.setattr(provider, "provision", provision)
    inventory = tmp_path / "hosts.ini"
    inventory.write_text("[servers]\n")
    result = CliRunner().invoke(app, ["up", str(DEFAULT), "--provider", "ansible", "-i", str(inventory),
                                      "--dry-run", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"playbook": "site.yml"}
    assert seen["lab"] == "demo" and seen["hosts"] and seen["check"] is True
    assert seen["state_dir"].name == "ansible" and seen["state_dir"].parent.name == seen["lab"]


def test_the_host_agent_applies_the_embedded_providers_phase_list():
    """One phase list (lab.apply.phases) for the embedded lab and real servers."""
    from lab.providers import embedded, host_apply

    for module in (embedded, host_apply):
        assert "phases.host_phases(" in inspect.getsource(module), module.__name__



def test_down_by_name_cleans_the_hosts_of_the_plan_up_provisioned(tmp_path, monkeypatch):
    """`down --lab NAME --provider ansible` without the topology file: the
    hosts of the plan the last `up` from here started to apply (kept once
    preflight passed, before the playbook runs); a lab never provisioned from
    here, or refused by preflight, asks for the file. The hosts are faked at
    the driver's edges (preflight, bundle, playbook run)."""
    from lab.model import load_topology
    from lab.plan.planner import build_plan
    from lab.providers import select
    from lab.providers.ansible import driver

    class Bundle:
        def extravars(self):
            return {}

    ran = []

    def run_playbook(playbook, inventories, state_dir, vault, **options):
        ran.append((playbook, options.get("check")))
        if playbook == "site.yml":
            raise RuntimeError("the run dies half way")
        return driver.RunResult(playbook, 0, "successful", str(state_dir), {})

    preflight_ok = []

    def preflight(*args, **kwargs):
        if not preflight_ok:
            raise driver.ProvisionError(["hv1: unreachable"])
        return preflight_ok

    monkeypatch.setattr(driver, "preflight", preflight)
    monkeypatch.setattr(driver, "build_bundle", Bundle)
    monkeypatch.setattr(driver, "run_playbook", run_playbook)
    inventory = tmp_path / "hosts.ini"
    inventory.write_text("[servers]\n")
    runner = CliRunner()
    down = ["down", "--lab", "demo", "--provider", "ansible", "-i", str(inventory)]
    assert runner.invoke(app, ["up", str(DEFAULT), "--provider", "ansible", "-i", str(inventory)]).exit_code == 2
    refused = runner.invoke(app, down)  # preflight refused the up: nothing to clean, no plan kept
    assert refused.exit_code == 2, refused.output
    assert "not provisioned from here" in " ".join(refused.output.split())
    preflight_ok.append(tmp_path / "inventory.yml")
    runner.invoke(app, ["up", str(DEFAULT), "--provider", "ansible", "-i", str(inventory), "--dry-run"])
    assert runner.invoke(app, down).exit_code == 2  # a check run changes nothing: keeps no plan
    runner.invoke(app, ["up", str(DEFAULT), "--provider", "ansible", "-i", str(inventory)])
    result = runner.invoke(app, down)
    assert result.exit_code == 0, result.output
    assert ran[-1] == ("down.yml", False)
    assert select("ansible", None, inventory).saved_plan("demo") == build_plan(load_topology(DEFAULT))


def test_status_of_a_lab_on_real_servers_shows_the_last_run_per_host():
    """`lab status --lab NAME` of a lab provisioned from here with Ansible:
    not "down", but what this machine knows (the last run, per host)."""
    from lab.paths import lab_dir
    from lab.providers.ansible import last_run
    from lab.providers.ansible.results import HostResult, RunResult

    hosts = {"hv1": HostResult("hv1", ok=9, changed=2), "tor": HostResult("tor", ok=4, unreachable=1)}
    last_run.save(lab_dir("realrack") / "ansible", "up", RunResult("site.yml", 2, "failed", "/x", hosts), False)
    runner = CliRunner()
    seen = runner.invoke(app, ["status", "--lab", "realrack", "--format", "json"])
    assert seen.exit_code == 0, seen.output
    data = json.loads(seen.stdout)
    assert data["state"] == "provisioned on real servers (ansible)"
    assert data["ansible"]["last_run"]["hosts"] == {"hv1": "changed", "tor": "unreachable"}
    table = runner.invoke(app, ["status", "--lab", "realrack"], terminal_width=160).output
    assert "real servers (ansible): last run up (site.yml) ended" in table and "failed" in table
    assert "unreachable" in table and "hv1" in table
