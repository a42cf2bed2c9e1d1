"""The datapath's flow hash, in Python (bpf/lookup.h: flow_hash).

The tests use it to predict, for a packet, the Maglev slot and the outer UDP
source port the XDP program must produce; keep both in step.
"""

from __future__ import annotations

import ipaddress

HASH_SEED = 0x5EED1B0B5EED1B0B
HASH_K1 = 0x9E3779B97F4A7C15
HASH_K2 = 0xBF58476D1CE4E5B9
_M32 = 0xFFFFFFFF
_M64 = 0xFFFFFFFFFFFFFFFF


def _wire_u32(addr: str) -> int:
    """A network-order address as a little-endian host loads it."""
    return int.from_bytes(ipaddress.IPv4Address(addr).packed, "little")


def _wire_u16(port: int) -> int:
    return int.from_bytes(port.to_bytes(2, "big"), "little")


def flow_hash(src: str, dst: str, sport: int, dport: int, proto: int) -> int:
    """struct flow_key loaded as two little-endian 64-bit words, then mixed."""
    w0 = _wire_u32(src) | (_wire_u32(dst) << 32)
    w1 = _wire_u16(sport) | (_wire_u16(dport) << 16) | (proto << 32)
    h = ((w0 ^ HASH_SEED) * HASH_K1) & _M64
    h ^= w1
    h = ((h ^ (h >> 31)) * HASH_K2) & _M64
    return (h ^ (h >> 32)) & _M32


def ring_slot(h: int, ring_size: int) -> int:
    """The Maglev slot of a hash, as bpf/lookup.h picks it (multiply-shift, no division)."""
    return (h * ring_size) >> 32


def vxlan_source_port(h: int) -> int:
    """RFC 7348 entropy port, as bpf/encap.h sets it."""
    return 49152 | (h & 0x3FFF)
