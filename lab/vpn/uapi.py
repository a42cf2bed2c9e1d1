"""WireGuard's cross-platform userspace API (UAPI), as wireguard-go serves it
on its control socket: text, `key=value` lines, a request ended by an empty
line, an answer ended by `errno=N` and an empty line. pyroute2's WireGuard
support speaks the kernel's generic-netlink family, which wireguard-go does
not register, so the lab speaks UAPI itself (and never shells out to `wg`).

Keys are hex on the socket and base64 in configuration files.
"""

from __future__ import annotations

import base64
import socket
from dataclasses import dataclass, field
from pathlib import Path

TIMEOUT_S = 3.0


class UapiError(RuntimeError):
    pass


def hex_key(b64: str) -> str:
    return base64.b64decode(b64).hex()


def b64_key(hexkey: str) -> str:
    return base64.b64encode(bytes.fromhex(hexkey)).decode()


def _exchange(path: Path, request: str) -> list[str]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(TIMEOUT_S)
        try:
            sock.connect(str(path))
        except OSError as exc:
            raise UapiError(f"no WireGuard control socket at {path}: {exc.strerror or exc}") from None
        sock.sendall(request.encode())
        data = b""
        while not data.endswith(b"\n\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    lines = data.decode().splitlines()
    errno = next((line.split("=", 1)[1] for line in lines if line.startswith("errno=")), None)
    if errno != "0":
        raise UapiError(f"WireGuard at {path} answered errno={errno}")
    return [line for line in lines if line and not line.startswith("errno=")]


@dataclass
class Peer:
    public_key: str  # base64
    preshared_key: str = ""
    endpoint: str = ""
    keepalive_s: int = 0
    allowed_ips: list[str] = field(default_factory=list)
    last_handshake_s: float = 0.0  # seconds since the epoch; 0 = never
    rx_bytes: int = 0
    tx_bytes: int = 0


@dataclass
class Device:
    private_key: str = ""  # base64
    listen_port: int = 0
    peers: list[Peer] = field(default_factory=list)


def get(path: Path) -> Device:
    dev = Device()
    peer: Peer | None = None
    for line in _exchange(path, "get=1\n\n"):
        key, _, value = line.partition("=")
        if key == "private_key":
            dev.private_key = b64_key(value)
        elif key == "listen_port":
            dev.listen_port = int(value)
        elif key == "public_key":
            peer = Peer(b64_key(value))
            dev.peers.append(peer)
        elif peer is not None:
            _peer_field(peer, key, value)
    return dev


def _peer_field(peer: Peer, key: str, value: str) -> None:
    if key == "preshared_key":
        peer.preshared_key = b64_key(value)
    elif key == "endpoint":
        peer.endpoint = value
    elif key == "persistent_keepalive_interval":
        peer.keepalive_s = int(value)
    elif key == "allowed_ip":
        peer.allowed_ips.append(value)
    elif key == "last_handshake_time_sec":
        peer.last_handshake_s += int(value)
    elif key == "last_handshake_time_nsec":
        peer.last_handshake_s += int(value) / 1e9
    elif key in ("rx_bytes", "tx_bytes"):
        setattr(peer, key, int(value))


def set_device(path: Path, dev: Device) -> None:
    """Make the device exactly `dev` (its peers replace all others)."""
    lines = ["set=1", f"private_key={hex_key(dev.private_key)}", f"listen_port={dev.listen_port}",
             "replace_peers=true"]
    for p in dev.peers:
        lines += [f"public_key={hex_key(p.public_key)}"]
        if p.preshared_key:
            lines.append(f"preshared_key={hex_key(p.preshared_key)}")
        if p.endpoint:
            lines.append(f"endpoint={p.endpoint}")
        lines += [f"persistent_keepalive_interval={p.keepalive_s}", "replace_allowed_ips=true"]
        lines += [f"allowed_ip={ip}" for ip in p.allowed_ips]
    _exchange(path, "\n".join(lines) + "\n\n")


def parse_conf(text: str) -> Device:
    """WireGuard's configuration format ([Interface], [Peer] sections); the
    keys wg-quick adds (Address, Table...) are not WireGuard's and are ignored."""
    dev, peer, section = Device(), None, ""
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("["):
            section = line.strip("[]").lower()
            if section == "peer":
                peer = Peer("")
                dev.peers.append(peer)
            continue
        key, _, value = (p.strip() for p in line.partition("="))
        key = key.lower()
        if section == "interface" and key == "privatekey":
            dev.private_key = value
        elif section == "interface" and key == "listenport":
            dev.listen_port = int(value)
        elif section == "peer" and peer is not None:
            _conf_peer_field(peer, key, value)
    return dev


def _conf_peer_field(peer: Peer, key: str, value: str) -> None:
    if key == "publickey":
        peer.public_key = value
    elif key == "presharedkey":
        peer.preshared_key = value
    elif key == "endpoint":
        peer.endpoint = value
    elif key == "persistentkeepalive":
        peer.keepalive_s = int(value)
    elif key == "allowedips":
        peer.allowed_ips += [ip.strip() for ip in value.split(",") if ip.strip()]
