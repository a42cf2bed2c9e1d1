"""A VPN's keys are lab secrets: made once per VPN gateway, private, rotated
like the others (`lab secrets rotate`), never in the plan."""

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
