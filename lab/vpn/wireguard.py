"""One WireGuard end: wireguard-go (a TUN device in the end's namespace),
configured over its UAPI socket from the shared wireguard.conf template.

The rendered file holds private keys, so it is written 0600 and is what the
end was configured from; the live device is compared with it field by field
(`lab up` repairs a changed key or peer). The site's peer endpoint may have
roamed to the standby of a pair: any public address of the pair is right.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from lab.ops.secret_store import write_private
from lab.vpn import daemon, uapi
from lab.vpn.render import End, wireguard_conf

START_TIMEOUT_S = 10.0


def binary() -> str:
    found = shutil.which("wireguard-go") or "/usr/bin/wireguard-go"
    return str(Path(found).resolve())


def pid_file(directory: Path) -> Path:
    return directory / "wireguard-go.pid"


def config_path(directory: Path) -> Path:
    return directory / "wireguard.conf"


def running(directory: Path) -> int | None:
    return daemon.running(pid_file(directory), binary())


def socket_path(pid: int, ifname: str) -> Path:
    """wireguard-go's socket in its own /run (see lab.vpn.daemon), reached
    through its root: no symlink on the way (/var/run would resolve in ours)."""
    return Path(f"/proc/{pid}/root/run/wireguard/{ifname}.sock")


def healthy(directory: Path, ifname: str) -> bool:
    """Answers on its socket and is configured: a device that is still being
    started has no key yet, and the pair monitor must not hand it the tunnel
    before its own configuration (which would then undo the monitor's)."""
    pid = running(directory)
    if pid is None:
        return False
    try:
        dev = uapi.get(socket_path(pid, ifname))
    except uapi.UapiError:
        return False
    return bool(dev.private_key.strip("A=") and dev.peers)


def start(end: End, directory: Path, conf: str) -> int:
    directory.mkdir(parents=True, exist_ok=True)
    pid = daemon.start(end.namespace, [binary(), "-f", end.ifname], pid_file(directory),
                       directory / "wireguard-go.log", env={"LOG_LEVEL": "error"})
    deadline = time.monotonic() + START_TIMEOUT_S
    while not socket_path(pid, end.ifname).exists():
        if time.monotonic() > deadline or running(directory) is None:
            raise uapi.UapiError(f"wireguard-go of {end.host} made no control socket within "
                                 f"{START_TIMEOUT_S:.0f} s; see {directory / 'wireguard-go.log'}")
        time.sleep(0.05)
    configure(directory, end.ifname, conf)
    return pid


def configure(directory: Path, ifname: str, conf: str) -> None:
    pid = running(directory)
    if pid is None:
        raise uapi.UapiError(f"wireguard-go is not running for {directory.name}")
    write_private(config_path(directory), conf)
    uapi.set_device(socket_path(pid, ifname), uapi.parse_conf(conf))


def drift(directory: Path, end: End, conf: str) -> list[str]:
    """What differs between the live device and `conf` (empty: nothing)."""
    pid = running(directory)
    if pid is None:
        return ["not running"]
    try:
        live = uapi.get(socket_path(pid, end.ifname))
    except uapi.UapiError as exc:
        return [str(exc)]
    want = uapi.parse_conf(conf)
    found = []
    if live.private_key != want.private_key:
        found.append("private key")
    if live.listen_port != want.listen_port:
        found.append(f"listen port {live.listen_port}")
    have = {p.public_key: p for p in live.peers}
    for peer in want.peers:
        got = have.pop(peer.public_key, None)
        if got is None:
            found.append("peer key")
            continue
        found += _peer_drift(end, peer, got)
    found += ["unplanned peer"] * len(have)
    return found


def _peer_drift(end: End, want: uapi.Peer, got: uapi.Peer) -> list[str]:
    found = []
    if got.preshared_key != want.preshared_key:
        found.append("pre-shared key")
    if sorted(got.allowed_ips) != sorted(want.allowed_ips):
        found.append(f"allowed IPs {','.join(got.allowed_ips)}")
    if got.keepalive_s != want.keepalive_s:
        found.append(f"keepalive {got.keepalive_s}")
    port = want.endpoint.rsplit(":", 1)[-1]
    if got.endpoint not in {f"{a}:{port}" for a in end.remote_addresses}:
        found.append(f"endpoint {got.endpoint or 'none'}")
    return found


def wanted_conf(vpn, end: End, secret: dict[str, str]) -> str:
    return wireguard_conf(vpn, end, secret)


def peer_state(directory: Path, ifname: str) -> uapi.Peer | None:
    """The end's one peer as the device reports it (handshake, counters)."""
    pid = running(directory)
    if pid is None:
        return None
    try:
        peers = uapi.get(socket_path(pid, ifname)).peers
    except uapi.UapiError:
        return None
    return peers[0] if peers else None

