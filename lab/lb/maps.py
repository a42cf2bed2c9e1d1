"""Typed access to the pinned maps; byte layouts mirror bpf/lb_common.h."""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from lab.lb.bpfsys import BpfMap, GlobalTable, possible_cpus
from lab.lb.flowhash import flow_hash
from lab.lb.loader import MAP_NAMES, TABLE_NAMES, Pinned

VIP_F_HA_PORTS = 1
BACKEND_F_VALID = 1
CFG_F_NO_AFFINITY = 1
PROTOS = {"tcp": 6, "udp": 17, "all": 0}
RULES_PER_VIP = 8
CONN_WAYS = 4
GLOBAL_COUNTERS = ("non_ipv4_pass", "non_vip_pass", "no_rule_drop", "frag_drop",
                   "malformed_drop", "no_backend_drop", "encap_err", "too_big_drop",
                   "conn_miss", "tx")

_RULE = struct.Struct("=2sBBIII")
_SLOT_HEAD = struct.Struct("=II")
# struct conn_set: the clock, then CONN_WAYS ways of struct conn_entry
CONN_SET_DTYPE = np.dtype([("clock", "=u4"), ("pad", "=u4"),
                           ("way", [("key", "V16"), ("target", "=u4"), ("tag", "=u4"),
                                    ("last_used", "=u4"), ("pad", "=u4")], (CONN_WAYS,))])
# A ring slot and a connection-table way hold a target: backend | pair << PAIR_SHIFT
# (bpf/lb_common.h); the pair, a (rule, backend), keys the packet counters.
PAIR_SHIFT = 12
BACKEND_MASK = (1 << PAIR_SHIFT) - 1
PAIR_DTYPE = np.dtype([("vip_id", "=u4"), ("backend", "=u4")])
_BACKEND = struct.Struct("=HHI64s")  # flags, pad, csum_base, the frame's first 64 bytes
_IPV4_FIXED_WORDS = struct.Struct("=4I")  # the outer IPv4 header's words 1-4, as loaded
VXLAN_PORT = 4789
_CONFIG = struct.Struct("=4s6sHIII")
_U32 = struct.Struct("=I")
_RECORD_SIZES = {"config": _CONFIG.size, "vips": _SLOT_HEAD.size + RULES_PER_VIP * _RULE.size,
                 "backends": _BACKEND.size, "rings": _U32.size, "conn": CONN_SET_DTYPE.itemsize,
                 "pairs": PAIR_DTYPE.itemsize}


def ip_bytes(addr: str) -> bytes:
    return ipaddress.IPv4Address(addr).packed


def mac_bytes(mac: str) -> bytes:
    return bytes.fromhex(mac.replace(":", ""))


def flow_key(src: str, dst: str, sport: int, dport: int, proto: int) -> bytes:
    return (ip_bytes(src) + ip_bytes(dst) + sport.to_bytes(2, "big") + dport.to_bytes(2, "big")
            + bytes([proto, 0, 0, 0]))


def _fold16(total: int) -> int:
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


@dataclass(frozen=True)
class BackendEntry:
    underlay_ip: str
    vni: int
    mac: str
    inner_src: str
    next_hop: str
    valid: bool = True

    def header(self, src_ip: str, src_mac: str) -> bytes:
        """The first 64 bytes of every frame sent to this backend, with the
        per-packet fields (TOS, lengths, checksum, UDP source port) zero: outer
        Ethernet, IPv4 (DF, TTL 64, UDP), UDP to 4789, VXLAN with the VNI, and
        the inner MACs and EtherType (bpf/encap.h fills in the rest)."""
        eth = mac_bytes(self.next_hop) + mac_bytes(src_mac) + b"\x08\x00"
        ip = (bytes([0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0])
              + ip_bytes(src_ip) + ip_bytes(self.underlay_ip))
        udp = bytes(2) + VXLAN_PORT.to_bytes(2, "big") + bytes(4)
        vxlan = bytes([0x08, 0, 0, 0]) + (self.vni << 8).to_bytes(4, "big")
        inner = mac_bytes(self.mac) + mac_bytes(self.inner_src) + b"\x08\x00"
        return eth + ip + udp + vxlan + inner

    def pack(self, src_ip: str, src_mac: str) -> bytes:
        hdr = self.header(src_ip, src_mac)
        csum_base = _fold16(sum(_IPV4_FIXED_WORDS.unpack_from(hdr, 18)))
        return _BACKEND.pack(BACKEND_F_VALID if self.valid else 0, 0, csum_base, hdr)

    @classmethod
    def unpack(cls, raw: bytes) -> BackendEntry:
        flags, _, _, hdr = _BACKEND.unpack_from(raw)
        return cls(str(ipaddress.IPv4Address(hdr[30:34])), int.from_bytes(hdr[46:49], "big"),
                   _mac_str(hdr[50:56]), _mac_str(hdr[56:62]), _mac_str(hdr[0:6]),
                   bool(flags & BACKEND_F_VALID))


def _mac_str(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


@dataclass(frozen=True)
class VipRule:
    """One frontend of a VIP address; port 0 + proto 0 = HA ports."""

    port: int
    proto: int
    vip_id: int
    ring_off: int
    ring_size: int

    def pack(self) -> bytes:
        flags = VIP_F_HA_PORTS if self.port == 0 and self.proto == 0 else 0
        return _RULE.pack(self.port.to_bytes(2, "big"), self.proto, flags, self.vip_id,
                          self.ring_off, self.ring_size)


@dataclass(frozen=True)
class Stats:
    packets: int = 0
    bytes: int = 0
    new_flows: int = 0


def total_stats(stats: Iterable[Stats]) -> Stats:
    rows = list(stats)
    return Stats(sum(s.packets for s in rows), sum(s.bytes for s in rows),
                 sum(s.new_flows for s in rows))


class LbMaps:
    """All maps of one loaded datapath, opened once. The tables (globals of
    the datapath) go by the names they had as maps: lb_vips, lb_conn..."""

    def __init__(self, pinned: Pinned):
        self.m: dict[str, BpfMap | GlobalTable] = {name: pinned.map(name) for name in MAP_NAMES}
        for name in TABLE_NAMES:
            self.m[f"lb_{name}"] = pinned.table(name, _RECORD_SIZES[name])

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

    def set_config(self, src_ip: str, src_mac: str, pool: str, flags: int = 0,
                   max_frame: int = 0) -> None:
        """The MUX's outer addresses and the VIP pool (VIP slots index into it)."""
        net = ipaddress.IPv4Network(pool)
        slots = self.m["lb_vips"].info.max_entries
        if net.num_addresses > slots:
            raise ValueError(f"VIP pool {pool} has {net.num_addresses} addresses; "
                             f"the datapath was built for {slots}")
        before = self._outer_source()
        value = _CONFIG.pack(ip_bytes(src_ip), mac_bytes(src_mac), flags, max_frame,
                             int(net.network_address), net.num_addresses)
        self.m["lb_config"].update(_U32.pack(0), value)
        if before != self._outer_source():
            self._repack_backends()

    def _outer_source(self) -> tuple[str, str]:
        """The MUX's underlay address and MAC: the outer source of every backend's header."""
        src_ip, src_mac = self._config()[:2]
        return str(ipaddress.IPv4Address(src_ip)), _mac_str(src_mac)

    def _repack_backends(self) -> None:
        for idx, raw in enumerate(self.m["lb_backends"].values()):
            if idx and any(raw):
                self.put_backend(idx, BackendEntry.unpack(raw))

    def _config(self) -> list:
        raw = self.m["lb_config"].lookup(_U32.pack(0))
        return list(_CONFIG.unpack(raw)) if raw else [bytes(4), bytes(6), 0, 0, 0, 0]

    def config_flags(self) -> int:
        return self._config()[2]

    def set_config_flags(self, flags: int) -> None:
        cfg = self._config()
        cfg[2] = flags
        self.m["lb_config"].update(_U32.pack(0), _CONFIG.pack(*cfg))

    def set_max_frame(self, max_frame: int) -> None:
        cfg = self._config()
        cfg[3] = max_frame
        self.m["lb_config"].update(_U32.pack(0), _CONFIG.pack(*cfg))

    def _slot_index(self, addr: str) -> int:
        _, _, _, _, base, size = self._config()
        idx = int(ipaddress.IPv4Address(addr)) - base
        if not 0 <= idx < size:
            raise ValueError(f"VIP {addr} is outside the VIP pool the ToR routes to this MUX")
        return idx

    def set_vip_rules(self, addr: str, rules: list[VipRule]) -> None:
        """Replace every rule of one VIP address at once (an empty list closes
        it). The flows of rules that are gone lose their connection-table
        entries: established packets find their rule there (lb_xdp.c), so a
        closed port stays closed for them too."""
        if len(rules) > RULES_PER_VIP:
            raise ValueError(f"VIP {addr}: {len(rules)} rules, at most {RULES_PER_VIP} per address")
        key = _U32.pack(self._slot_index(addr))
        before = self._rule_ids(self.m["lb_vips"].lookup(key))
        value = _SLOT_HEAD.pack(len(rules), 0) + b"".join(r.pack() for r in rules)
        value += bytes(_RULE.size * (RULES_PER_VIP - len(rules)))
        self.m["lb_vips"].update(key, value)
        self.forget_flows(before - {r.vip_id for r in rules})

    @staticmethod
    def _rule_ids(slot: bytes | None) -> set[int]:
        if not slot:
            return set()
        count = _SLOT_HEAD.unpack_from(slot)[0]
        return {_RULE.unpack_from(slot, _SLOT_HEAD.size + i * _RULE.size)[3]
                for i in range(min(count, RULES_PER_VIP))}

    def forget_flows(self, vip_ids: set[int]) -> int:
        """Free the connection-table ways of flows that matched these rules;
        returns how many. Call it after the rules are out of the VIP table: a
        packet that saw the old rule is long done by the time the table has
        been read. A set is written back whole, so a concurrent update of
        another way of it may be lost; that flow takes a fresh Maglev pick."""
        if not vip_ids:
            return 0
        pairs = self._pairs()
        gone = np.flatnonzero((pairs["backend"] != 0) & np.isin(pairs["vip_id"], sorted(vip_ids)))
        conn = self.m["lb_conn"]
        table = np.frombuffer(conn.raw(), dtype=CONN_SET_DTYPE).copy()
        ways = table["way"]
        stale = (ways["target"] != 0) & np.isin(ways["target"] >> PAIR_SHIFT, gone)
        rows = np.flatnonzero(stale.any(axis=1))
        if rows.size == 0:
            return 0
        ways[stale] = np.zeros(1, dtype=ways.dtype)
        keys = rows.astype("=u4").tobytes()
        conn.update_batch(keys, table[rows].tobytes(), int(rows.size))
        return int(stale.sum())

    def put_backend(self, backend_id: int, entry: BackendEntry) -> None:
        self.m["lb_backends"].update(_U32.pack(backend_id), entry.pack(*self._outer_source()))

    def write_ring(self, offset: int, ring: list[int], vip_id: int,
                   previous: list[int] | None = None) -> int:
        """Write the Maglev ring (backend ids, 0 = empty) of rule `vip_id`: only
        the slots that changed, each as backend | pair << PAIR_SHIFT; returns
        how many."""
        changed = [i for i, b in enumerate(ring) if previous is None or previous[i] != b]
        if not changed:
            return 0
        pair = self.pair_ids(vip_id, {ring[i] for i in changed} - {0})
        keys = np.array([offset + i for i in changed], dtype="=u4")
        values = np.array([ring[i] | pair.get(ring[i], 0) << PAIR_SHIFT for i in changed],
                          dtype="=u4")
        self.m["lb_rings"].update_batch(keys.tobytes(), values.tobytes(), len(changed))
        return len(changed)

    def _pairs(self) -> np.ndarray:
        return np.frombuffer(self.m["lb_pairs"].raw(), dtype=PAIR_DTYPE)

    def pair_ids(self, vip_id: int, backends: set[int]) -> dict[int, int]:
        """The pair id of (vip_id, b) for each backend b, allocated if new. Pairs
        are never freed while the program is loaded (rule and backend ids are
        never reused either), so counts are never lost or misattributed."""
        bad = sorted(b for b in backends if not 0 < b <= BACKEND_MASK)
        if bad:
            raise ValueError(f"backend id {bad[0]} is outside 1..{BACKEND_MASK}")
        pairs = self._pairs()
        mine = (pairs["vip_id"] == vip_id) & (pairs["backend"] != 0)
        known = {int(pairs["backend"][i]): int(i) for i in np.flatnonzero(mine)}
        new = sorted(b for b in backends if b not in known)
        if new:
            free = [int(i) for i in np.flatnonzero(pairs["backend"] == 0) if i][:len(new)]
            if len(free) < len(new):
                raise ValueError(f"all {len(pairs) - 1} (rule, backend) counter pairs are in "
                                 "use; reload the load balancer")
            table = self.m["lb_pairs"]
            for pid, b in zip(free, new, strict=True):
                table.update(_U32.pack(pid), np.array([(vip_id, b)], dtype=PAIR_DTYPE).tobytes())
                known[b] = pid
        return {b: known[b] for b in backends}

    def pair_stats(self) -> dict[tuple[int, int], Stats]:
        """(vip_id, backend id) -> counters summed over the CPUs, for every pair."""
        pairs = self._pairs()
        stats = self.m["lb_pair_stats"]
        words = np.frombuffer(b"".join(stats.values()), dtype="=u8")
        per_cpu = words.reshape(len(pairs), possible_cpus(), stats.slot // 8)[:, :, :3]
        totals = per_cpu.sum(axis=1)
        return {(int(pairs["vip_id"][i]), int(pairs["backend"][i])): Stats(*map(int, totals[i]))
                for i in np.flatnonzero(pairs["backend"] != 0)}

    def vip_stats(self, vip_id: int) -> Stats:
        return total_stats(s for (v, _), s in self.pair_stats().items() if v == vip_id)

    def backend_stats(self, backend_id: int) -> Stats:
        return total_stats(s for (_, b), s in self.pair_stats().items() if b == backend_id)

    def global_counters(self) -> dict[str, int]:
        result = {}
        for i, name in enumerate(GLOBAL_COUNTERS):
            values = self.m["lb_global"].lookup_percpu(_U32.pack(i)) or []
            result[name] = sum(struct.unpack("=Q", v)[0] for v in values)
        result["tx"] += self.forwarded_packets()
        return result

    def forwarded_packets(self) -> int:
        """Packets sent out encapsulated: the datapath counts them per pair only."""
        return sum(st.packets for st in self.pair_stats().values())

    def conn_backend(self, src: str, dst: str, sport: int, dport: int, proto: int) -> set[int]:
        """The backend the connection table holds for a flow (empty: not in the table)."""
        key = flow_key(src, dst, sport, dport, proto)
        nsets = self.m["lb_conn"].info.max_entries
        raw = self.m["lb_conn"].lookup(_U32.pack(flow_hash(src, dst, sport, dport, proto) & (nsets - 1)))
        if not raw:
            return set()
        ways = np.frombuffer(raw, dtype=CONN_SET_DTYPE)[0]["way"]
        return {int(w["target"]) & BACKEND_MASK for w in ways
                if w["target"] and w["key"].tobytes() == key}
