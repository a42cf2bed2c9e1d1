"""A datapath loaded for BPF_PROG_TEST_RUN, with a small known configuration,
and Scapy builders for input and exact expected output frames."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.layers.vxlan import VXLAN
from scapy.packet import Raw

from lab.lb import build, loader, maglev
from lab.lb.bpfsys import TestRun, prog_test_run
from lab.lb.flowhash import flow_hash, ring_slot, vxlan_source_port
from lab.lb.maps import BackendEntry, LbMaps, VipRule

MUX_IP, MUX_MAC = "198.18.0.15", "02:00:00:00:00:15"
ROUTER_MAC = "02:00:00:00:00:01"
CLIENT = "198.51.100.10"
VIP_TCP = "192.0.2.10"  # tcp/80 and udp/53
VIP_HA = "192.0.2.20"   # HA ports
POOL = "192.0.2.0/24"
GW_MAC = "02:00:00:00:aa:01"
RING = 13
BACKENDS = {
    1: BackendEntry("198.18.0.11", 1001, "02:00:00:00:01:01", GW_MAC, "02:00:00:00:00:11"),
    2: BackendEntry("198.18.0.12", 1001, "02:00:00:00:01:02", GW_MAC, "02:00:00:00:00:12"),
    3: BackendEntry("198.18.0.13", 1001, "02:00:00:00:01:03", GW_MAC, "02:00:00:00:00:13"),
}
# (addr, port, proto) -> vip id; each VIP id owns ring slots [id*RING, id*RING+RING)
RULES = {(VIP_TCP, 80, 6): 1, (VIP_TCP, 53, 17): 2, (VIP_HA, 0, 0): 3}


@dataclass
class Datapath:
    pinned: loader.Pinned
    maps: LbMaps
    prog_fd: int
    rings: dict[int, list[int]] = field(default_factory=dict)

    def run(self, frame: bytes) -> TestRun:
        """One fresh run per frame (repeat=1: repeat re-runs on the modified buffer)."""
        return prog_test_run(self.prog_fd, frame, repeat=1)

    def set_ring(self, vip_id: int, ring: list[int]) -> None:
        self.maps.write_ring(vip_id * RING, ring, vip_id, self.rings.get(vip_id))
        self.rings[vip_id] = ring

    def backend_for(self, vip_id: int, src: str, dst: str, sport: int, dport: int, proto: int) -> int:
        h = flow_hash(src, dst, sport, dport, proto)
        return self.rings[vip_id][ring_slot(h, RING)]


def load_datapath(lab: str) -> Datapath:
    root = loader.pin_root(lab)
    loader.remove_root(root)
    pinned = loader.load(build.lb_object(), root, "lb")
    maps = LbMaps(pinned)
    dp = Datapath(pinned, maps, pinned.prog_fd())
    maps.set_config(MUX_IP, MUX_MAC, POOL)
    for bid, entry in BACKENDS.items():
        maps.put_backend(bid, entry)
    ring = maglev.build_ring({f"b{i}": i for i in BACKENDS}, RING)
    for addr in sorted({a for a, _, _ in RULES}):
        maps.set_vip_rules(addr, [VipRule(port, proto, vip_id, vip_id * RING, RING)
                                  for (a, port, proto), vip_id in RULES.items() if a == addr])
    for vip_id in RULES.values():
        dp.set_ring(vip_id, ring)
    return dp


def unload_datapath(dp: Datapath, lab: str) -> None:
    os.close(dp.prog_fd)
    dp.maps.close()
    loader.remove_root(loader.pin_root(lab))


def expected_encap(inner: bytes, backend: BackendEntry, h: int, tos: int = 0) -> bytes:
    """The exact frame the MUX must send: VXLAN to the backend's server, the
    original IP packet behind an inner Ethernet header (gateway -> backend)."""
    outer = (Ether(dst=backend.next_hop, src=MUX_MAC)
             / IP(src=MUX_IP, dst=backend.underlay_ip, tos=tos, id=0, flags="DF", ttl=64)
             / UDP(sport=vxlan_source_port(h), dport=4789, chksum=0)
             / VXLAN(flags=0x08, vni=backend.vni)
             / Ether(dst=backend.mac, src=backend.inner_src, type=0x0800)
             / Raw(inner))
    return bytes(outer)


def client_frame(ip_packet) -> bytes:
    return bytes(Ether(dst=MUX_MAC, src=ROUTER_MAC) / ip_packet)
