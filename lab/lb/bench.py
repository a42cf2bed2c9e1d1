"""`lab bench lb`, BPF_PROG_TEST_RUN part: ns per packet of the LB's
established-flow and new-flow paths against an XDP_DROP program measured in
the same run (the floor: the cost of running any XDP program at all).

The LB is built with LB_BENCH_REWIND: after encapsulating it moves the head
back, so `repeat` re-runs the real path on the original packet instead of on
the encapsulated one (which would take the cheap non-VIP path). That rewind
is one bpf_xdp_adjust_head call the real datapath does not make; its cost is
measured in the same rounds (a program that moves the head out and back,
minus the floor, halved) and taken off. The raw figures stay in the result.
"""

from __future__ import annotations

import os
import statistics
from dataclasses import dataclass

from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

from lab.lb import build, loader, maglev
from lab.lb.bpfsys import prog_test_run
from lab.lb.maps import BackendEntry, LbMaps, VipRule

XDP_DROP, XDP_TX = 1, 3
VIP, CLIENT = "192.0.2.200", "198.51.100.10"
RING = 65537
ENCAP_LEN = 50  # outer Ethernet + IPv4 + UDP + VXLAN


@dataclass(frozen=True)
class TestRunFigures:
    drop_ns: float
    established_ns: float
    new_flow_ns: float
    rewind_ns: float = 0.0  # one bpf_xdp_adjust_head, already taken off the two above

    @property
    def established_raw_ns(self) -> float:
        return self.established_ns + self.rewind_ns

    @property
    def new_flow_raw_ns(self) -> float:
        return self.new_flow_ns + self.rewind_ns

    @property
    def established_ratio(self) -> float:
        return self.established_ns / self.drop_ns

    @property
    def new_flow_ratio(self) -> float:
        return self.new_flow_ns / self.drop_ns


def _frame(flags: str) -> bytes:
    return bytes(Ether(dst="02:00:00:00:00:15", src="02:00:00:00:00:01")
                 / IP(src=CLIENT, dst=VIP) / TCP(sport=43210, dport=80, flags=flags) / (b"x" * 18))


def _configure(maps: LbMaps, backends: int = 8) -> None:
    maps.set_config("198.18.0.15", "02:00:00:00:00:15", "192.0.2.0/24")
    for i in range(1, backends + 1):
        maps.put_backend(i, BackendEntry(f"198.18.0.{20 + i}", 1001, f"02:00:00:00:01:{i:02x}",
                                         "02:00:00:00:aa:01", f"02:00:00:00:00:{20 + i:02x}"))
    maps.set_vip_rules(VIP, [VipRule(80, 6, 1, 0, RING)])
    maps.write_ring(0, maglev.build_ring({f"b{i}": i for i in range(1, backends + 1)}, RING))


def _median_ns(prog_fd: int, frame: bytes, expect: int, repeat: int, rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        res = prog_test_run(prog_fd, frame, repeat=repeat)
        if res.retval != expect:
            raise RuntimeError(f"benchmark program returned {res.retval}, expected {expect}")
        samples.append(res.duration_ns)
    return float(statistics.median(samples))


def run_test_run_bench(repeat: int = 200_000, rounds: int = 7) -> TestRunFigures:
    """Bounded: 4 programs x rounds x repeat runs (about 0.1 s per round at 60 ns)."""
    root = loader.pin_root(f"lbbench{os.getpid()}")
    loader.remove_root(root)
    fds: list[int] = []
    try:
        drop = loader.load(build.simple_object("XDP_DROP"), root, "drop")
        shift = loader.load(build.simple_object("XDP_DROP", head_shift=ENCAP_LEN), root, "shift")
        lb = loader.load(build.lb_object(ring_slots=RING, rewind=True), root, "lb")
        with LbMaps(lb) as maps:
            _configure(maps)
        fds = [drop.prog_fd(), shift.prog_fd(), lb.prog_fd()]
        drop_fd, shift_fd, lb_fd = fds
        ack, syn = _frame("A"), _frame("S")
        prog_test_run(lb_fd, ack)  # the first ACK inserts the flow: later ones hit it
        d, r, e, n = [], [], [], []
        for _ in range(rounds):  # interleaved, so background load hits all four alike
            d.append(_median_ns(drop_fd, ack, XDP_DROP, repeat, 1))
            r.append(_median_ns(shift_fd, ack, XDP_DROP, repeat, 1))
            e.append(_median_ns(lb_fd, ack, XDP_TX, repeat, 1))
            n.append(_median_ns(lb_fd, syn, XDP_TX, repeat, 1))
        floor = statistics.median(d)
        rewind = max(0.0, (statistics.median(r) - floor) / 2)
        return TestRunFigures(floor, statistics.median(e) - rewind, statistics.median(n) - rewind,
                              rewind)
    finally:
        for fd in fds:
            os.close(fd)
        loader.remove_root(root)
