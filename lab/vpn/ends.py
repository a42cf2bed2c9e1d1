"""The two protocols behind one interface for the lifecycle, the monitor and
the checks: an end's daemon runs or not, answers or not, has the planned
config or not, carries the tunnel or not."""

from __future__ import annotations

import time
from pathlib import Path

from lab.ops.secret_store import load
from lab.plan.vpn_model import VpnSpec
from lab.vpn import ikev2, wireguard
from lab.vpn.render import End, ends
from lab.vpn.state import host_dir, serving

HANDSHAKE_MAX_AGE_S = 180.0  # WireGuard's REJECT_AFTER_TIME: an older session carries nothing


def all_ends(vpn: VpnSpec) -> list[End]:
    """The site first (it answers), then the gateway instances, the active first."""
    found = ends(vpn, serving(vpn))
    return [found[-1], *found[:-1]]


def directory(vpn: VpnSpec, end: End) -> Path:
    return host_dir(vpn.lab, end.host)


def binary(vpn: VpnSpec) -> str:
    return wireguard.binary() if vpn.protocol == "wireguard" else ikev2.CHARON


def running(vpn: VpnSpec, end: End) -> int | None:
    d = directory(vpn, end)
    return wireguard.running(d) if vpn.protocol == "wireguard" else ikev2.running(d)


def healthy(vpn: VpnSpec, end: End) -> bool:
    d = directory(vpn, end)
    return wireguard.healthy(d, end.ifname) if vpn.protocol == "wireguard" else ikev2.healthy(d)


def secret(vpn: VpnSpec) -> dict[str, str]:
    found = load(vpn.lab, vpn.secret)
    if found is None:
        raise LookupError(f"lab secret {vpn.secret} is missing: run `lab up`")
    return found.value


def wanted_conf(vpn: VpnSpec, end: End) -> str:
    module = wireguard if vpn.protocol == "wireguard" else ikev2
    return module.wanted_conf(vpn, end, secret(vpn))


def start(vpn: VpnSpec, end: End) -> int:
    module = wireguard if vpn.protocol == "wireguard" else ikev2
    return module.start(end, directory(vpn, end), wanted_conf(vpn, end))


def drift(vpn: VpnSpec, end: End) -> list[str]:
    d, conf = directory(vpn, end), wanted_conf(vpn, end)
    if vpn.protocol == "wireguard":
        return wireguard.drift(d, end, conf)
    return [] if ikev2.loaded(d) == conf else ["config"]


def reconfigure(vpn: VpnSpec, end: End) -> None:
    d, conf = directory(vpn, end), wanted_conf(vpn, end)
    if vpn.protocol == "wireguard":
        wireguard.configure(d, end.ifname, conf)
    else:
        ikev2.load(d, conf)


def tunnel(vpn: VpnSpec, end: End) -> dict:
    """{up: bool, remote: where this end's tunnel ends, rx_bytes, tx_bytes; age_s
    since the last handshake (WireGuard)}."""
    d = directory(vpn, end)
    if vpn.protocol == "ikev2":
        sa = ikev2.established(d, vpn.name)
        return {"up": sa is not None, "remote": sa["remote"] if sa else "",
                "rx_bytes": sa["rx_bytes"] if sa else 0, "tx_bytes": sa["tx_bytes"] if sa else 0}
    peer = wireguard.peer_state(d, end.ifname)
    if peer is None:
        return {"up": False, "remote": ""}
    age = time.time() - peer.last_handshake_s if peer.last_handshake_s else None
    return {"up": age is not None and age < HANDSHAKE_MAX_AGE_S, "remote": peer.endpoint.rsplit(":", 1)[0],
            "age_s": age, "handshake_at": peer.last_handshake_s, "rx_bytes": peer.rx_bytes, "tx_bytes": peer.tx_bytes}


def site_end(vpn: VpnSpec) -> End:
    return all_ends(vpn)[0]


def instance_end(vpn: VpnSpec, host: str) -> End:
    return next(e for e in all_ends(vpn) if e.host == host)
