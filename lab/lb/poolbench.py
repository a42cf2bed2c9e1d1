"""`lab bench lb --muxes 1,2`: the MUX pool under the same offered load with
one and with several MUXes, the flows spread over them by an ECMP route.

Fabric (namespaces lbpool.gen / .rtr / .mux<i>, addresses from 198.18.0.0/15):
gen:g0 <-> rtr:r0, and rtr:r<i> <-> mux<i>:m0 for every MUX. The router
stands in for the ToR: one /32 route to the VIP with a next hop per MUX in
the run and L4 multipath hashing (fib_multipath_hash_policy=1), as the ToR
installs it from the MUXes' BGP announcements (BGP itself is not part of the
measurement; the pool checks of `lab verify` cover it). trafgen sends the
same TCP frame with the low byte of the source port counting 0-255, i.e.
256 flows, so the router spreads them. Each MUX runs its own LB program with
the same backends (the same Maglev ring), encapsulates and XDP_TXes back to
the router, whose r<i> drops the frames (XDP_DROP).

Measured per MUX count, in interleaved rounds (median of each figure):
- per MUX: packets it forwarded (its own counters) and the CPU time of its
  XDP program per forwarded packet, from the kernel's BPF run-time
  statistics (BPF_ENABLE_STATS, on only while the bench runs); the XDP_DROP
  program of the baseline run, timed the same way, is the floor to read it
  against (the statistics' own clock reads are in both).
- the pool: the rate trafgen offered, the packets all MUXes forwarded per
  second, and the whole CPU cost per forwarded packet above a baseline run in
  which every MUX of the run drops (the router's forwarding and trafgen's own
  cost are in both, so they cancel). That difference is a few percent of
  trafgen's own ~2-3 us per frame, so it is coarse (hundreds of ns between
  rounds); the per-MUX figure is the precise one. With veth, a MUX's XDP runs
  in softirq on the sender's CPU: more MUXes spread the work over programs,
  not CPUs.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from pyroute2 import netns
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

from lab.apply.netns import write_sysctl
from lab.lb import build, loader, maglev
from lab.lb.bpfsys import enable_run_time_stats, prog_run_stats
from lab.lb.livebench import attach, generate, trafgen_config
from lab.lb.maps import BackendEntry, LbMaps, VipRule

PREFIX = "lbpool"
GEN, RTR = f"{PREFIX}.gen", f"{PREFIX}.rtr"
VIP, VIP_POOL, CLIENT, GATEWAY = "203.0.113.10", "203.0.113.0/24", "198.18.1.2", "198.18.1.1"
SPORT_LOW_BYTE = 14 + 20 + 1  # Ethernet + IPv4 header, then the TCP source port's second byte
ROUNDS = 5
MAX_MUXES = 8


def mux_ns(i: int) -> str:
    return f"{PREFIX}.mux{i}"


def _mux_ip(i: int) -> str:
    return f"198.18.{16 + i}.2"


def _mac(host: int, port: int) -> str:
    return f"02:00:00:bc:{host:02x}:{port:02x}"


GEN_MAC, RTR_MAC = _mac(0, 1), _mac(0, 2)  # g0, r0; mux i: r<i> = _mac(i, 1), m0 = _mac(i, 2)


@dataclass(frozen=True)
class PoolFigures:
    muxes: int
    frames: int
    offered_pps: float
    total_pps: float
    whole_cpu_ns_per_pkt: float
    xdp_drop_ns_per_pkt: float  # the floor: XDP_DROP on the same MUXes, timed the same way
    per_mux: list[dict[str, float | int | str]]

    def to_json(self) -> dict:
        return {"muxes": self.muxes, "frames": self.frames, "offered_pps": round(self.offered_pps),
                "total_pps": round(self.total_pps), "whole_cpu_ns_per_pkt": round(self.whole_cpu_ns_per_pkt, 1),
                "xdp_drop_ns_per_pkt": round(self.xdp_drop_ns_per_pkt, 1), "per_mux": self.per_mux}


def _veth(a_ns: str, a: str, a_mac: str, b_ns: str, b: str, b_mac: str) -> None:
    with loader.netlink(a_ns) as ipr:
        ipr.link("add", ifname=a, kind="veth", peer={"ifname": b, "net_ns_fd": b_ns})
        ipr.link("set", index=ipr.link_lookup(ifname=a)[0], address=a_mac, state="up")
    with loader.netlink(b_ns) as ipr:
        ipr.link("set", index=ipr.link_lookup(ifname=b)[0], address=b_mac, state="up")


def _addr(ns: str, ifname: str, ip: str) -> int:
    with loader.netlink(ns) as ipr:
        idx = ipr.link_lookup(ifname=ifname)[0]
        ipr.addr("add", index=idx, address=ip, prefixlen=24)
        return idx


def _namespaces(count: int) -> list[str]:
    return [GEN, RTR, *(mux_ns(i) for i in range(1, count + 1))]


@contextmanager
def fabric(count: int) -> Iterator[None]:
    teardown()
    try:
        for ns in _namespaces(count):
            netns.create(ns)
            with loader.netlink(ns) as ipr:
                ipr.link("set", index=1, state="up")
        _veth(GEN, "g0", GEN_MAC, RTR, "r0", RTR_MAC)
        _addr(GEN, "g0", CLIENT)
        _addr(RTR, "r0", GATEWAY)
        for i in range(1, count + 1):
            _veth(RTR, f"r{i}", _mac(i, 1), mux_ns(i), "m0", _mac(i, 2))
            _addr(mux_ns(i), "m0", _mux_ip(i))
            idx = _addr(RTR, f"r{i}", f"198.18.{16 + i}.1")
            with loader.netlink(RTR) as ipr:
                ipr.neigh("add", dst=_mux_ip(i), lladdr=_mac(i, 2), ifindex=idx, state=0x80)
        write_sysctl(RTR, "net.ipv4.ip_forward", "1")
        write_sysctl(RTR, "net.ipv4.fib_multipath_hash_policy", "1")
        yield
    finally:
        teardown()


def teardown() -> None:
    for ns in _namespaces(MAX_MUXES):
        if os.path.exists(f"/run/netns/{ns}"):
            netns.remove(ns)


def route_over(count: int) -> None:
    """The VIP's route on the router: one next hop per MUX of the run."""
    with loader.netlink(RTR) as ipr:
        hops = [{"gateway": _mux_ip(i), "oif": ipr.link_lookup(ifname=f"r{i}")[0]}
                for i in range(1, count + 1)]
        if count == 1:
            ipr.route("replace", dst=f"{VIP}/32", gateway=hops[0]["gateway"], oif=hops[0]["oif"])
        else:
            ipr.route("replace", dst=f"{VIP}/32", multipath=hops)


def pool_frame() -> bytes:
    return bytes(Ether(dst=RTR_MAC, src=GEN_MAC) / IP(src=CLIENT, dst=VIP)
                 / TCP(sport=40000, dport=80, flags="A") / (b"x" * 18))


def _configure(maps: LbMaps, i: int) -> None:
    """The same two backends on every MUX (so the same ring); the encapsulated
    frames go back to the router's r<i>, which drops them."""
    maps.set_config(_mux_ip(i), _mac(i, 2), VIP_POOL)
    for b in (1, 2):
        maps.put_backend(b, BackendEntry(f"198.18.{16 + i}.{20 + b}", 1001, f"02:00:00:bc:f0:{b:02x}",
                                         _mac(i, 2), _mac(i, 1)))
    maps.set_vip_rules(VIP, [VipRule(80, 6, 1, 0, 65537)])
    maps.write_ring(0, maglev.build_ring({"b1": 1, "b2": 2}, 65537), 1)


def _run_stats(pinned: loader.Pinned) -> tuple[int, int]:
    fd = pinned.prog_fd()
    try:
        return prog_run_stats(fd)
    finally:
        os.close(fd)


def _sample(lbs: list[loader.Pinned]) -> list[tuple[int, int]]:
    """(forwarded packets, program run time ns) of each MUX's LB."""
    result = []
    for lb in lbs:
        with LbMaps(lb) as maps:
            result.append((maps.forwarded_packets(), _run_stats(lb)[0]))
    return result


def _round(count: int, frames: int, rate: int | None, drop: loader.Pinned,
           lbs: list[loader.Pinned]) -> dict:
    """A baseline run (the MUXes drop) and an LB run over `count` MUXes."""
    config = trafgen_config(pool_frame(), (SPORT_LOW_BYTE,))
    route_over(count)
    for i in range(1, count + 1):
        attach(mux_ns(i), "m0", drop)
    d0 = _run_stats(drop)
    base_cpu, _ = generate(frames, GEN, config, rate)
    d1 = _run_stats(drop)
    for i in range(1, count + 1):
        attach(mux_ns(i), "m0", lbs[i - 1])
    before = _sample(lbs[:count])
    cpu, wall = generate(frames, GEN, config, rate)
    after = _sample(lbs[:count])
    fwd = [a[0] - b[0] for a, b in zip(after, before, strict=True)]
    run_ns = [a[1] - b[1] for a, b in zip(after, before, strict=True)]
    total = sum(fwd)
    if not total:
        raise RuntimeError(f"no MUX forwarded anything ({count} MUXes)")
    return {"offered_pps": frames / wall, "total_pps": total / wall, "cpu": (cpu - base_cpu) / total,
            "drop_ns": (d1[0] - d0[0]) / max(d1[1] - d0[1], 1),
            "forwarded": fwd, "prog_ns": [r / f if f else 0.0 for r, f in zip(run_ns, fwd, strict=True)]}


def _median(rounds: list[dict], count: int, frames: int) -> PoolFigures:
    med = {k: statistics.median(r[k] for r in rounds) for k in ("offered_pps", "total_pps", "cpu", "drop_ns")}
    per_mux = []
    for i in range(count):
        fwd = statistics.median(r["forwarded"][i] for r in rounds)
        per_mux.append({"mux": f"mux{i + 1}", "forwarded": round(fwd),
                        "share": round(fwd / max(statistics.median(sum(r["forwarded"]) for r in rounds), 1), 3),
                        "cpu_ns_per_pkt": round(statistics.median(r["prog_ns"][i] for r in rounds), 1)})
    return PoolFigures(count, frames, med["offered_pps"], med["total_pps"], max(0.0, med["cpu"]),
                       med["drop_ns"], per_mux)


def run_pool_bench(counts: list[int], frames: int = 300_000, rate_pps: int | None = None,
                   rounds: int = ROUNDS) -> list[PoolFigures]:
    """`rounds` interleaved rounds over the MUX counts, each a baseline and an
    LB run of `frames` frames (bounded: 2 x rounds x len(counts) trafgen runs)."""
    if not counts or min(counts) < 1 or max(counts) > MAX_MUXES:
        raise ValueError(f"MUX counts must be 1-{MAX_MUXES}, got {counts}")
    root = loader.pin_root(PREFIX)
    loader.remove_root(root)
    stats_fd = enable_run_time_stats()
    try:
        with fabric(max(counts)):
            drop = loader.load(build.simple_object("XDP_DROP"), root, "drop")
            lbs = [loader.load(build.lb_object(ring_slots=65537), root, f"lb{i}")
                   for i in range(1, max(counts) + 1)]
            for i, lb in enumerate(lbs, 1):
                with LbMaps(lb) as maps:
                    _configure(maps, i)
                attach(RTR, f"r{i}", drop)
            results: dict[int, list[dict]] = {c: [] for c in counts}
            for _ in range(rounds):
                for count in counts:
                    results[count].append(_round(count, frames, rate_pps, drop, lbs))
    finally:
        os.close(stats_fd)
        loader.remove_root(root)
    return [_median(results[c], c, frames) for c in counts]
