"""Typed access to the pinned maps; byte layouts mirror bpf/lb_common.h."""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

from lab.lb.bpfsys import BpfMap, possible_cpus
from lab.lb.loader import MAP_NAMES, Pinned

VIP_F_HA_PORTS = 1
BACKEND_F_VALID = 1
CFG_F_NO_AFFINITY = 1
PROTOS = {"tcp": 6, "udp": 17, "all": 0}
GLOBAL_COUNTERS = ("rx", "non_ipv4_pass", "non_vip_pass", "no_rule_drop", "frag_drop",
                   "malformed_drop", "no_backend_drop", "encap_err", "too_big_drop",
                   "conn_hit", "conn_miss", "tx")

_META = struct.Struct("=IIII")
_BACKEND = struct.Struct("=4sI6s6s6sH")
_CONFIG = struct.Struct("=4s6sHI")
_STATS = struct.Struct("=QQQ")
_CONN = struct.Struct("=II")
_U32 = struct.Struct("=I")


def ip_bytes(addr: str) -> bytes:
    return ipaddress.IPv4Address(addr).packed


def mac_bytes(mac: str) -> bytes:
    return bytes.fromhex(mac.replace(":", ""))


def vip_key(addr: str, port: int, proto: int) -> bytes:
    return ip_bytes(addr) + port.to_bytes(2, "big") + bytes([proto, 0])


def flow_key(src: str, dst: str, sport: int, dport: int, proto: int) -> bytes:
    return (ip_bytes(src) + ip_bytes(dst) + sport.to_bytes(2, "big") + dport.to_bytes(2, "big")
            + bytes([proto, 0, 0, 0]))


@dataclass(frozen=True)
class BackendEntry:
    underlay_ip: str
    vni: int
    mac: str
    inner_src: str
    next_hop: str
    valid: bool = True

    def pack(self) -> bytes:
        return _BACKEND.pack(ip_bytes(self.underlay_ip), self.vni, mac_bytes(self.mac),
                             mac_bytes(self.inner_src), mac_bytes(self.next_hop),
                             BACKEND_F_VALID if self.valid else 0)


@dataclass(frozen=True)
class Stats:
    packets: int = 0
    bytes: int = 0
    new_flows: int = 0


class LbMaps:
    """All maps of one loaded datapath, opened once."""

    def __init__(self, pinned: Pinned):
        self.m: dict[str, BpfMap] = {name: pinned.map(name) for name in MAP_NAMES}

    def close(self) -> None:
        for m in self.m.values():
            m.close()

    def __enter__(self) -> LbMaps:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def ring_slots(self) -> int:
        return self.m["lb_rings"].info.max_entries

    def set_config(self, src_ip: str, src_mac: str, flags: int = 0, max_frame: int = 0) -> None:
        value = _CONFIG.pack(ip_bytes(src_ip), mac_bytes(src_mac), flags, max_frame)
        self.m["lb_config"].update(_U32.pack(0), value)

    def config_flags(self) -> int:
        raw = self.m["lb_config"].lookup(_U32.pack(0))
        return _CONFIG.unpack(raw)[2] if raw else 0

    def set_config_flags(self, flags: int) -> None:
        raw = bytearray(self.m["lb_config"].lookup(_U32.pack(0)) or bytes(_CONFIG.size))
        struct.pack_into("=H", raw, 10, flags)
        self.m["lb_config"].update(_U32.pack(0), bytes(raw))

    def put_vip(self, addr: str, port: int, proto: int, vip_id: int, flags: int,
                ring_off: int, ring_size: int) -> None:
        self.m["lb_vips"].update(vip_key(addr, port, proto),
                                 _META.pack(vip_id, flags, ring_off, ring_size))

    def delete_vip(self, addr: str, port: int, proto: int) -> None:
        self.m["lb_vips"].delete(vip_key(addr, port, proto))

    def set_vip_addr(self, addr: str, rules: int) -> None:
        """Mark an address as a VIP (rules > 0) or forget it (0)."""
        if rules > 0:
            self.m["lb_vip_addrs"].update(ip_bytes(addr), _U32.pack(rules))
        else:
            self.m["lb_vip_addrs"].delete(ip_bytes(addr))

    def put_backend(self, backend_id: int, entry: BackendEntry) -> None:
        self.m["lb_backends"].update(_U32.pack(backend_id), entry.pack())

    def write_ring(self, offset: int, ring: list[int], previous: list[int] | None = None) -> int:
        """Write only the slots that changed, in one batch syscall; returns how many."""
        changed = [i for i, b in enumerate(ring) if previous is None or previous[i] != b]
        if not changed:
            return 0
        keys = b"".join(_U32.pack(offset + i) for i in changed)
        values = b"".join(_U32.pack(ring[i]) for i in changed)
        self.m["lb_rings"].update_batch(keys, values, len(changed))
        return len(changed)

    def read_ring(self, offset: int, size: int) -> list[int]:
        rings = self.m["lb_rings"]
        return [_U32.unpack(rings.lookup(_U32.pack(offset + i)))[0] for i in range(size)]

    def _sum_stats(self, name: str, idx: int) -> Stats:
        values = self.m[name].lookup_percpu(_U32.pack(idx)) or []
        total = [0, 0, 0]
        for raw in values:
            for i, v in enumerate(_STATS.unpack(raw)):
                total[i] += v
        return Stats(*total)

    def vip_stats(self, vip_id: int) -> Stats:
        return self._sum_stats("lb_vip_stats", vip_id)

    def backend_stats(self, backend_id: int) -> Stats:
        return self._sum_stats("lb_be_stats", backend_id)

    def global_counters(self) -> dict[str, int]:
        result = {}
        for i, name in enumerate(GLOBAL_COUNTERS):
            values = self.m["lb_global"].lookup_percpu(_U32.pack(i)) or []
            result[name] = sum(struct.unpack("=Q", v)[0] for v in values)
        return result

    def conn_backend(self, src: str, dst: str, sport: int, dport: int, proto: int) -> set[int]:
        """Backends recorded for a flow across CPUs (empty: not in the table)."""
        values = self.m["lb_conn"].lookup_percpu(flow_key(src, dst, sport, dport, proto)) or []
        return {_CONN.unpack(v)[0] for v in values} - {0}

    def conn_count(self) -> int:
        return len(self.m["lb_conn"].keys())


def cpu_count() -> int:
    return possible_cpus()
