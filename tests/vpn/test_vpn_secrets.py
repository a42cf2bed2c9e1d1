"""A VPN's keys are lab secrets: made once per VPN gateway, private, rotated
like the others (`lab secrets rotate`, which re-keys the running ends), never in the plan."""

from __future__ import annotations

import base64
import os
import stat

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from lab.ops import secrets
from lab.ops.secret_store import load, secrets_dir


def _public_of(private_b64: str) -> str:
    key = X25519PrivateKey.from_private_bytes(base64.b64decode(private_b64))
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def test_wireguard_keys_pair_up_and_are_private(tmp_path, monkeypatch):
    monkeypatch.setenv("STACKLAB_HOME", str(tmp_path))
    assert secrets.ensure_item("vs1", "vpn-branch", "vpn-wireguard")
    assert not secrets.ensure_item("vs1", "vpn-branch", "vpn-wireguard")  # kept, with its age
    value = load("vs1", "vpn-branch").value
    assert _public_of(value["gateway_private"]) == value["gateway_public"]
    assert _public_of(value["site_private"]) == value["site_public"]
    assert len(base64.b64decode(value["preshared"])) == 32
    path = secrets_dir("vs1") / "vpn-branch.json"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_vpn_secrets_rotate_like_the_others(tmp_path, monkeypatch):
    monkeypatch.setenv("STACKLAB_HOME", str(tmp_path))
    secrets.ensure_item("vs2", "vpn-hq", "vpn-ikev2")
    old = load("vs2", "vpn-hq")
    new = secrets.rotate("vs2", "vpn-hq")
    assert new.kind == "vpn-ikev2" and new.rotations == 1 and new.value["psk"] != old.value["psk"]
    assert [s.name for s in secrets.rotate_all("vs2")] == ["vpn-hq"]


def test_rotation_re_keys_the_running_ends_site_first_serving_last(tmp_path, monkeypatch):
    """The live test measures the tunnel through it; here: who, in which order,
    with the site's WireGuard endpoint at the instance that serves."""
    from lab.model import load_topology
    from lab.plan.planner import build_plan
    from lab.vpn import rekey
    from lab.vpn.state import save_specs, set_serving
    from tests.fabric.helpers import ROOT

    monkeypatch.setenv("STACKLAB_HOME", str(tmp_path))
    plan = build_plan(load_topology(ROOT / "tests" / "vpn" / "wgpair.yaml"))
    vpn = plan.vpns[0]
    save_specs(plan.lab, plan.vpns)
    set_serving(vpn, vpn.instances[1].host, "test")
    secrets.ensure_item(plan.lab, vpn.secret, "vpn-wireguard")
    keyed = []
    monkeypatch.setattr(rekey.ends, "running", lambda v, end: 1)
    monkeypatch.setattr(rekey.ends, "reconfigure", lambda v, end: keyed.append(end))
    new, applied = secrets.rotate_applied(plan.lab, vpn.secret)
    assert [e.host for e in keyed] == [vpn.site.host, vpn.instances[0].host, vpn.instances[1].host]
    assert keyed[0].remote_addresses[0] == vpn.instances[1].public_address
    assert applied == [f"{e.host}: re-keyed" for e in keyed] and new.rotations == 1
