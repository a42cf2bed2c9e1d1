"""`lab up/down --provider ansible`: bad input is reported before anything runs."""

from __future__ import annotations

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
