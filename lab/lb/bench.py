"""`lab bench lb`, BPF_PROG_TEST_RUN part: ns per packet of the LB's
established-flow and new-flow paths against an XDP_DROP program measured in
the same run (the floor: the cost of running any XDP program at all).

The LB is built with LB_BENCH_REWIND: after encapsulating it moves the head
back, so `repeat` re-runs the real path on the original packet instead of on
the encapsulated one (which would take the cheap non-VIP path). That rewind
is one bpf_xdp_adjust_head call the real datapath does not make; its cost is
measured in the same rounds (a program that moves the head out and back,
minus the floor, halved) and taken off. The raw figures stay in the result.

Each figure is the fastest of the interleaved rounds: on a shared machine
other work only ever adds time to a round, so the minimum is the program's own
cost (the medians are reported beside it, to show the noise).
"""

from __future__ import annotations

import os
import statistics
from dataclasses import dataclass, replace

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
    medians: dict[str, float] | None = None  # the same figures from the median round

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
    maps.write_ring(0, maglev.build_ring({f"b{i}": i for i in range(1, backends + 1)}, RING), 1)


def _ns(prog_fd: int, frame: bytes, expect: int, repeat: int) -> float:
    res = prog_test_run(prog_fd, frame, repeat=repeat)
    if res.retval != expect:
        raise RuntimeError(f"benchmark program returned {res.retval}, expected {expect}")
    return float(res.duration_ns)


def _figures(d: list[float], r: list[float], e: list[float], n: list[float], pick) -> TestRunFigures:
    floor = pick(d)
    rewind = max(0.0, (pick(r) - floor) / 2)
    return TestRunFigures(floor, pick(e) - rewind, pick(n) - rewind, rewind)


def run_test_run_bench(repeat: int = 200_000, rounds: int = 31) -> TestRunFigures:
    """Bounded: 4 programs x rounds x repeat runs (about 0.05 s per round at 60 ns)."""
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
            d.append(_ns(drop_fd, ack, XDP_DROP, repeat))
            r.append(_ns(shift_fd, ack, XDP_DROP, repeat))
            e.append(_ns(lb_fd, ack, XDP_TX, repeat))
            n.append(_ns(lb_fd, syn, XDP_TX, repeat))
        median = _figures(d, r, e, n, statistics.median)
        fastest = _figures(d, r, e, n, min)
        return replace(fastest, medians={"drop_ns": median.drop_ns, "established_ns": median.established_ns,
                                         "new_flow_ns": median.new_flow_ns})
    finally:
        for fd in fds:
            os.close(fd)
        loader.remove_root(root)
