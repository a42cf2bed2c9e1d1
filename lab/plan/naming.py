"""Deterministic short names and MAC addresses.

Kernel interface names are limited to 15 characters, and a topology change
must not rename unrelated objects, so names derive from a hash of what they
stand for rather than from list positions.
"""

from __future__ import annotations

import hashlib

IFNAME_MAX = 15


def digest(*parts: str, length: int = 8) -> str:
    return hashlib.blake2b("\0".join(parts).encode(), digest_size=16).hexdigest()[:length]


def short_ifname(prefix: str, *parts: str) -> str:
    """A <= 15 character interface name, stable for the same inputs."""
    name = prefix + digest(*parts, length=IFNAME_MAX - len(prefix))
    return name[:IFNAME_MAX]


def mac_for(*parts: str) -> str:
    """A locally administered unicast MAC (02:...), stable for the same inputs."""
    raw = digest(*parts, length=10)
    return "02:" + ":".join(raw[i : i + 2] for i in range(0, 10, 2))


def namespace_for(lab: str, host: str) -> str:
    """Namespaces are '<lab>.<host>': '.' cannot occur in topology names, so
    two labs, or a server and a gateway, never share a namespace name."""
    return f"{lab}.{host}"


ENDPOINT_HOST_PREFIX = "ep."


def endpoint_host(vm: str) -> str:
    """The host of a namespace stand-in endpoint (its VM name kept for `lab exec`)."""
    return f"{ENDPOINT_HOST_PREFIX}{vm}"


def endpoint_namespace(lab: str, vm: str) -> str:
    return namespace_for(lab, endpoint_host(vm))


def mark_for(lab: str) -> str:
    return f"stacklab:{lab}"


def bridge_name(vni: int) -> str:
    return f"br{vni}"


def vxlan_name(vni: int) -> str:
    return f"vx{vni}"


DATA_DISK_LETTERS = "bcdefghijklmnopq"  # vdb.. (vda is the OS disk); 16 = the largest size's max


def data_disk_dev(index: int) -> str:
    """The guest device of the index-th data disk: its position in the VM's list."""
    return f"vd{DATA_DISK_LETTERS[index]}"


def data_disk_relpath(vm: str, disk: str) -> str:
    """Where a data disk's image lives, relative to the lab directory."""
    return f"compute/{vm}/data-{disk}.qcow2"


def mirror_leg_relpath(server: str, vm: str, disk: str) -> str:
    """A mirror leg's raw file, relative to the lab directory: under the
    server that holds it, so one server's copies are one directory."""
    return f"compute/storage/{server}/{vm}/{disk}.raw"


def quorum_socket_relpath(vm: str, disk: str) -> str:
    """The NBD unix socket a mirrored disk's quorum serves its VM on (its
    daemon's pid file and monitor socket sit beside it)."""
    return f"compute/mirror/{vm}/{disk}.sock"
