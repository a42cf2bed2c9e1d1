"""The lifecycle host without a lab (no root): the plan gives every server a
BMC of its own, the reachability check refuses to pass with nothing to
reach, and a rotation never leaves a moment where the credentials clients
read are refused by the verifier the server reads (the previous value is
accepted until the next rotation)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.cli.ops import _split_target
from lab.model import load_topology
from lab.ops import htpasswd, secrets
from lab.ops.secret_store import load
from lab.plan.planner import build_plan
from lab.verify.ops.checks import check_bmc_reachable

ROOT = Path(__file__).resolve().parents[2]


def test_every_server_gets_its_own_bmc_listing_its_vms():
    plan = build_plan(load_topology(ROOT / "topologies" / "embedded.yaml"))
    hlh = plan.lifecycle_host
    assert hlh is not None and hlh.namespace == "demo.oob.hlh"
    assert [b.server for b in hlh.bmcs] == ["hv1", "hv2", "hv3", "hv4", "mux1"]
    assert len({b.port for b in hlh.bmcs}) == len(hlh.bmcs)
    assert {b.server: b.vms for b in hlh.bmcs} == {"hv1": ["blue-vm1"], "hv2": [], "hv3": ["blue-vm2", "red-vm1"],
                                                   "hv4": ["red-vm2"], "mux1": []}
    assert hlh.namespace not in {h.namespace for h in plan.hosts}


def test_reachable_refuses_to_pass_with_no_bmc_to_reach():
    plan = build_plan(load_topology(ROOT / "topologies" / "minimal.yaml"))
    result = check_bmc_reachable(plan.model_copy(update={"lifecycle_host": None}))
    assert result.verdict == "fail" and "nothing to reach" in result.evidence


def test_bmc_status_takes_a_topology_file_or_a_server_name():
    assert _split_target("topologies/minimal.yaml", None) == (None, Path("topologies/minimal.yaml"))
    assert _split_target("hv1", None) == ("hv1", None)
    assert _split_target("hv1", Path("t.yaml")) == ("hv1", Path("t.yaml"))


def test_htpasswd_accepts_any_line_of_the_user(tmp_path):
    auth = tmp_path / "x.htpasswd"
    auth.write_text(htpasswd.entries([("u", "old-password"), ("u", "new-password")]))
    assert htpasswd.check(auth, "u", b"old-password") and htpasswd.check(auth, "u", b"new-password")
    assert not htpasswd.check(auth, "u", b"other") and not htpasswd.check(auth, "v", b"new-password")


@pytest.mark.parametrize("name", ["bmc", "exporter"])
def test_rotation_overlaps_so_no_client_is_refused(tmp_path, monkeypatch, name):
    monkeypatch.setenv("STACKLAB_HOME", str(tmp_path))
    secrets.ensure("rot")
    old = load("rot", name)
    verifier = secrets.KINDS[name].verifier("rot")
    real_save, seen = secrets.save, []

    def save_and_look(lab, secret):  # the moment clients switch to the new value
        seen.append((htpasswd.check(verifier, old.value["username"], old.value["password"].encode()),
                     htpasswd.check(verifier, secret.value["username"], secret.value["password"].encode())))
        real_save(lab, secret)

    monkeypatch.setattr(secrets, "save", save_and_look)
    new = secrets.rotate("rot", name)
    assert seen == [(True, True)]  # both accepted while clients switch

    def accepted(secret) -> bool:
        return htpasswd.check(verifier, secret.value["username"], secret.value["password"].encode())

    assert accepted(new) and accepted(old)  # a client holding the previous value may finish
    newer = secrets.rotate("rot", name)
    assert accepted(newer) and accepted(new) and not accepted(old)  # two rotations revoke it
    if name == "exporter":
        assert secrets.exporter_password_path("rot").read_text() == newer.value["password"]
