"""The lab's own secrets: which exist, how each is made and rotated, and
their age against `specs.secret_max_age_h` (the seed: internal secrets
rotated every 24 h).

A lab has the credentials of its lifecycle host's Redfish BMC (`bmc`). The
embedded guests have no SSH (run-command goes over virtio-serial) and the
Prometheus exporter has no authentication, so neither has a secret to
rotate; a kind added here is created by `up` and rotated like the others.
Each site-to-site VPN gateway has one more, named after it (`vpn-<name>`,
made by the VPN's `up`): WireGuard keys of both ends and a pre-shared key
(vpn-wireguard), or the IKEv2 pre-shared key (vpn-ikev2). Rotating one
changes no running tunnel: the next `lab up` re-keys both ends.

Rotation writes the new value and its derived files (the BMC's bcrypt
htpasswd, which the emulator reads on every request) atomically and touches
nothing else: no namespace, link, program or process, so the data path
cannot notice it.
"""

from __future__ import annotations

import base64
import json
import secrets as token
import time
from collections.abc import Callable
from dataclasses import dataclass

import bcrypt

from lab.ops.secret_store import Secret, all_secrets, load, save, secrets_dir, write_private
from lab.paths import lab_dir

DEFAULT_MAX_AGE_H = 24.0


@dataclass(frozen=True)
class Kind:
    make: Callable[[], dict[str, str]]
    derive: Callable[[str, Secret], None]  # (lab, secret): files other components read


def _bmc_value() -> dict[str, str]:
    return {"username": "stacklab-admin", "password": token.token_urlsafe(24)}


def htpasswd_path(lab: str):
    return secrets_dir(lab) / "bmc.htpasswd"


def _bmc_derive(lab: str, secret: Secret) -> None:
    digest = bcrypt.hashpw(secret.value["password"].encode(), bcrypt.gensalt(rounds=8)).decode()
    write_private(htpasswd_path(lab), f"{secret.value['username']}:{digest}\n")


def _no_files(lab: str, secret: Secret) -> None:
    pass


def wireguard_keypair() -> tuple[str, str]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    key = X25519PrivateKey.generate()
    raw = serialization.Encoding.Raw
    private = key.private_bytes(raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    public = key.public_key().public_bytes(raw, serialization.PublicFormat.Raw)
    return base64.b64encode(private).decode(), base64.b64encode(public).decode()


def _wireguard_value() -> dict[str, str]:
    """Curve25519 keys of the gateway (shared by a pair: the standby takes over
    the active's identity) and of the site, and a pre-shared key, base64 as
    WireGuard writes them."""
    gateway, site = wireguard_keypair(), wireguard_keypair()
    return {"gateway_private": gateway[0], "gateway_public": gateway[1], "site_private": site[0],
            "site_public": site[1], "preshared": base64.b64encode(token.token_bytes(32)).decode()}


def _psk_value() -> dict[str, str]:
    return {"psk": token.token_urlsafe(32)}


KINDS: dict[str, Kind] = {"bmc": Kind(_bmc_value, _bmc_derive)}
# kinds of which a lab has one per item of a topology section, named by its owner
PER_ITEM: dict[str, Kind] = {"vpn-wireguard": Kind(_wireguard_value, _no_files),
                             "vpn-ikev2": Kind(_psk_value, _no_files)}


def max_age_h(lab: str) -> float:
    """`specs.secret_max_age_h` of the lab's saved plan (default 24 h)."""
    try:
        return float(json.loads((lab_dir(lab) / "plan.json").read_text())["specs"]["secret_max_age_h"])
    except (OSError, ValueError, KeyError, TypeError):
        return DEFAULT_MAX_AGE_H


class UnknownSecret(KeyError):
    """A secret name the lab does not have."""


def missing(lab: str) -> list[str]:
    return [name for name in KINDS if load(lab, name) is None]


def ensure(lab: str) -> list[str]:
    """Create every secret the lab lacks; existing ones keep their age."""
    created = []
    for name in missing(lab):
        secret = Secret(name, name, time.time(), KINDS[name].make())
        save(lab, secret)
        KINDS[name].derive(lab, secret)
        created.append(name)
    return created


def ensure_item(lab: str, name: str, kind: str) -> bool:
    """Create the per-item secret `name` of `kind` unless it exists; True if made."""
    if load(lab, name) is not None:
        return False
    secret = Secret(name, kind, time.time(), PER_ITEM[kind].make())
    save(lab, secret)
    return True


def _kind_of(name: str, secret: Secret | None) -> Kind | None:
    return KINDS.get(name) or (PER_ITEM.get(secret.kind) if secret is not None else None)


def rotate(lab: str, name: str) -> Secret:
    old = load(lab, name)
    kind = _kind_of(name, old)
    if old is None or kind is None:
        raise UnknownSecret(name)
    new = Secret(name, old.kind, time.time(), kind.make(), old.rotations + 1)
    save(lab, new)
    kind.derive(lab, new)
    return new


def rotate_all(lab: str) -> list[Secret]:
    return [rotate(lab, s.name) for s in all_secrets(lab) if _kind_of(s.name, s) is not None]


def status(lab: str, max_age: float | None = None, now: float | None = None) -> list[dict]:
    """Age and next rotation per secret (values never leave the store)."""
    now = time.time() if now is None else now
    max_age_h_ = max_age_h(lab) if max_age is None else max_age
    rows = []
    for s in all_secrets(lab):
        age_h = (now - s.created_at) / 3600
        rows.append({"name": s.name, "kind": s.kind, "created_at": s.created_at, "age_h": round(age_h, 3),
                     "max_age_h": max_age_h_, "next_rotation": s.created_at + max_age_h_ * 3600,
                     "rotations": s.rotations, "stale": age_h > max_age_h_})
    return rows


def backdate(lab: str, name: str, hours: float) -> Secret:
    """Make a secret look `hours` old (the stale-secret fault); value kept."""
    secret = load(lab, name)
    if secret is None:
        raise UnknownSecret(name)
    secret.created_at = time.time() - hours * 3600
    save(lab, secret)
    return secret
