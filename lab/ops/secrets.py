"""The lab's own secrets: which exist, how each is made and rotated, and
their age against `specs.secret_max_age_h` (the seed: internal secrets
rotated every 24 h).

A lab has the credentials of its lifecycle host's Redfish BMCs (`bmc`) and
the basic-auth credentials of its Prometheus exporter (`exporter`, used
when `lab exporter --basic-auth` serves). The embedded guests have no sshd
(run-command goes over virtio-serial), so no guest SSH key exists to
rotate; a kind added here is created by `up` and rotated like the others.
Each site-to-site VPN gateway has one more, named after it (`vpn-<name>`,
made by the VPN's `up`): WireGuard keys of both ends and a pre-shared key
(vpn-wireguard), or the IKEv2 pre-shared key (vpn-ikev2). Rotating one
re-keys the tunnel's running ends at once (lab.vpn.rekey: charon loads the
new key over VICI and keeps its SAs; wireguard-go takes the new keys over
UAPI and handshakes again within a keepalive); an end that is not running
takes them when `lab up` starts it.

Rotation overlaps old and new so that no client is ever refused: the
verifier (a bcrypt htpasswd the server reads per request) first accepts the
new value beside the current one, then the new value is saved and published
where clients read it. The previous value stays accepted until the next
rotation, so a client that read it just before the switch can finish (a
second rotation revokes it); older ones are gone. Each step is an atomic
file write; nothing else is touched (no namespace, link, program or
process), so the data path cannot notice it. The VPN's keys are the
exception: both ends of a tunnel must hold the same, so they are handed to
the running daemons (no restart, no link or route touched).
"""

from __future__ import annotations

import base64
import json
import secrets as token
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lab.features import resolve
from lab.ops import htpasswd
from lab.ops.secret_store import Secret, all_secrets, load, save, secrets_dir, write_private
from lab.paths import lab_dir

DEFAULT_MAX_AGE_H = 24.0


@dataclass(frozen=True)
class Kind:
    make: Callable[[], dict[str, str]]
    verifier: Callable[[str], Path] | None = None  # (lab) -> the htpasswd the server reads
    # where clients read it: files, running daemons; returns what now uses the new value
    publish: Callable[[str, Secret], list[str]] = lambda lab, secret: []


def _credentials(user: str) -> Callable[[], dict[str, str]]:
    return lambda: {"username": user, "password": token.token_urlsafe(24)}


def htpasswd_path(lab: str) -> Path:
    return secrets_dir(lab) / "bmc.htpasswd"


def exporter_htpasswd_path(lab: str) -> Path:
    return secrets_dir(lab) / "exporter.htpasswd"


def exporter_password_path(lab: str) -> Path:
    """The scrape password alone, for Prometheus' `basic_auth.password_file` (re-read per scrape)."""
    return secrets_dir(lab) / "exporter.password"


def _publish_exporter(lab: str, secret: Secret) -> list[str]:
    write_private(exporter_password_path(lab), secret.value["password"])
    return [f"{exporter_password_path(lab)}: written (Prometheus reads it per scrape)"]


def _rekey_vpn(lab: str, secret: Secret) -> list[str]:
    """The VPN feature re-keys (lab.vpn.rekey), by reference: the VPN is built
    on these secrets, so ops does not import it."""
    rekey_running = resolve("lab.vpn.rekey:rekey_running")
    return rekey_running(lab, secret.name) if rekey_running else []


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


KINDS: dict[str, Kind] = {
    "bmc": Kind(_credentials("stacklab-admin"), htpasswd_path),
    "exporter": Kind(_credentials("prometheus"), exporter_htpasswd_path, _publish_exporter),
}
# kinds of which a lab has one per item of a topology section, named by its
# owner; no server verifies them per request (the VPN's running ends are re-keyed)
PER_ITEM: dict[str, Kind] = {"vpn-wireguard": Kind(_wireguard_value, publish=_rekey_vpn),
                             "vpn-ikev2": Kind(_psk_value, publish=_rekey_vpn)}


def _verify(lab: str, kind: Kind, accepted: list[Secret]) -> None:
    if kind.verifier is None:
        return
    write_private(kind.verifier(lab), htpasswd.entries((s.value["username"], s.value["password"])
                                                       for s in accepted))


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
        _verify(lab, KINDS[name], [secret])
        save(lab, secret)
        KINDS[name].publish(lab, secret)
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
    return rotate_applied(lab, name)[0]


def rotate_applied(lab: str, name: str) -> tuple[Secret, list[str]]:
    """The new secret and what uses it now (published files, re-keyed daemons)."""
    old = load(lab, name)
    kind = _kind_of(name, old)
    if old is None or kind is None:
        raise UnknownSecret(name)
    new = Secret(name, old.kind, time.time(), kind.make(), old.rotations + 1)
    _verify(lab, kind, [new, old])  # 1. the server accepts both; the one before `old` no more
    save(lab, new)  # 2. clients switch; `old` stays accepted until the next rotation
    return new, kind.publish(lab, new)


def rotate_all(lab: str) -> list[Secret]:
    return [s for s, _ in rotate_all_applied(lab)]


def rotate_all_applied(lab: str) -> list[tuple[Secret, list[str]]]:
    return [rotate_applied(lab, s.name) for s in all_secrets(lab) if _kind_of(s.name, s) is not None]


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
