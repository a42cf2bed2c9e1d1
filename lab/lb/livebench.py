"""`lab bench lb`, live part: the XDP LB against an nftables L4 DNAT load
balancer (jhash + conntrack) on the same veth fabric and the same offered load.

Fabric (namespaces lbbench.gen / .mux / .sink, addresses from 198.18.1-2.0/24):
gen:g0 <-> mux:m0, mux:m1 <-> sink:s0. The generator is BPF_PROG_TEST_RUN in
live-frames mode: an XDP_TX program bounces N copies of one TCP frame to the
VIP out of g0 into the MUX. Softirq work runs in the generator thread's
context (no IRQ time accounting on this kernel), so its CPU time plus
ksoftirqd's is the whole cost; a run with XDP_DROP on m0 is the baseline
subtracted to leave the MUX's cost per forwarded packet.
- XDP: the LB on m0 encapsulates and XDP_TXes back to g0 (XDP_DROP there).
- nft: XDP_PASS on m0 (veth needs it to accept XDP frames), then prerouting
  DNAT by jhash to two addresses behind m1, conntrack, forwarding, s0 drops.
"""

from __future__ import annotations

import os
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import nftables
from pyroute2 import netns
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

from lab.apply.netns import inside, write_sysctl
from lab.lb import build, loader, maglev
from lab.lb.bpfsys import BPF_F_TEST_XDP_LIVE_FRAMES, prog_test_run
from lab.lb.maps import BackendEntry, LbMaps, VipRule

PREFIX = "lbbench"
GEN, MUX, SINK = f"{PREFIX}.gen", f"{PREFIX}.mux", f"{PREFIX}.sink"
VIP, CLIENT = "203.0.113.10", "198.18.1.2"
SINK_IPS = ("198.18.2.2", "198.18.2.3")
MACS = {"g0": "02:00:00:bb:00:01", "m0": "02:00:00:bb:00:02", "m1": "02:00:00:bb:00:03",
        "s0": "02:00:00:bb:00:04"}
NFT_RULES = f"""
table ip lbbench {{
  chain pre {{
    type nat hook prerouting priority dstnat;
    ip daddr {VIP} tcp dport 80 dnat to jhash ip saddr . tcp sport mod 2 map {{ 0 : {SINK_IPS[0]}, 1 : {SINK_IPS[1]} }}
  }}
}}
"""


@dataclass(frozen=True)
class LiveFigures:
    xdp_cpu_ns_per_pkt: float
    nft_cpu_ns_per_pkt: float
    xdp_pps: float
    nft_pps: float
    frames: int


def _veth(a_ns: str, a: str, b_ns: str, b: str) -> None:
    with loader.netlink(a_ns) as ipr:
        ipr.link("add", ifname=a, kind="veth", peer={"ifname": b, "net_ns_fd": b_ns})
        ipr.link("set", index=ipr.link_lookup(ifname=a)[0], address=MACS[a], state="up")
    with loader.netlink(b_ns) as ipr:
        ipr.link("set", index=ipr.link_lookup(ifname=b)[0], address=MACS[b], state="up")


def _addr(ns: str, ifname: str, cidr: str) -> int:
    with loader.netlink(ns) as ipr:
        idx = ipr.link_lookup(ifname=ifname)[0]
        ip, plen = cidr.split("/")
        ipr.addr("add", index=idx, address=ip, prefixlen=int(plen))
        return idx


@contextmanager
def fabric() -> Iterator[dict[str, int]]:
    teardown()
    try:
        for ns in (GEN, MUX, SINK):
            netns.create(ns)
            with loader.netlink(ns) as ipr:
                ipr.link("set", index=1, state="up")
        _veth(GEN, "g0", MUX, "m0")
        _veth(MUX, "m1", SINK, "s0")
        idx = {"g0": _addr(GEN, "g0", f"{CLIENT}/24"), "m0": _addr(MUX, "m0", "198.18.1.1/24"),
               "m1": _addr(MUX, "m1", "198.18.2.1/24")}
        for ip in SINK_IPS:
            _addr(SINK, "s0", f"{ip}/24")
            with loader.netlink(MUX) as ipr:
                ipr.neigh("add", dst=ip, lladdr=MACS["s0"], ifindex=idx["m1"], state=0x80)
        write_sysctl(MUX, "net.ipv4.ip_forward", "1")
        yield idx
    finally:
        teardown()


def teardown() -> None:
    for ns in (GEN, MUX, SINK):
        if os.path.exists(f"/run/netns/{ns}"):
            netns.remove(ns)


def _frame() -> bytes:
    return bytes(Ether(dst=MACS["m0"], src=MACS["g0"]) / IP(src=CLIENT, dst=VIP)
                 / TCP(sport=40000, dport=80, flags="A") / (b"x" * 18))


def _thread_cpu_ns() -> int:
    return time.clock_gettime_ns(time.CLOCK_THREAD_CPUTIME_ID)


def _ksoftirqd_ns() -> int:
    """CPU time of all ksoftirqd threads (softirq work deferred out of our thread)."""
    total, tick = 0, os.sysconf("SC_CLK_TCK")
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            stat = open(f"/proc/{pid}/stat").read()
        except OSError:
            continue
        if "(ksoftirqd/" in stat:
            fields = stat.rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) * 1_000_000_000 // tick
    return total


def generate(gen_fd: int, ifindex: int, frames: int) -> tuple[int, float]:
    """Send `frames` live frames out of g0 from a thread inside the generator
    namespace; returns (CPU ns spent incl. softirq, wall seconds)."""
    out: list = []
    frame = _frame()
    ctx = struct.pack("=6I", 0, len(frame), 0, ifindex, 0, 0)

    def run() -> None:
        try:
            netns.setns(GEN, flags=0)
            k0, c0, t0 = _ksoftirqd_ns(), _thread_cpu_ns(), time.perf_counter()
            prog_test_run(gen_fd, frame, repeat=frames, ctx=ctx, flags=BPF_F_TEST_XDP_LIVE_FRAMES)
            wall = time.perf_counter() - t0
            time.sleep(0.05)  # let deferred softirq work finish
            out.append((_thread_cpu_ns() - c0 + _ksoftirqd_ns() - k0, wall))
        except BaseException as exc:
            out.append(exc)

    t = threading.Thread(target=run, name="lb-livegen")
    t.start()
    t.join(timeout=120)
    if not out or isinstance(out[0], BaseException):
        raise RuntimeError(f"live-frames generator failed: {out[0] if out else 'timeout'}")
    return out[0]


def _attach(ns: str, ifname: str, pinned: loader.Pinned) -> None:
    fd = pinned.prog_fd()
    try:
        loader.detach(ns, ifname)
        loader.attach(ns, ifname, fd)
    finally:
        os.close(fd)


def _tx_packets(ns: str, ifname: str) -> int:
    with loader.netlink(ns) as ipr:
        link = ipr.get_links(ipr.link_lookup(ifname=ifname)[0])[0]
    return int(link.get_attr("IFLA_STATS64")["tx_packets"])


def _configure_lb(maps: LbMaps) -> None:
    maps.set_config("198.18.1.1", MACS["m0"], "203.0.113.0/24")
    for i in (1, 2):
        maps.put_backend(i, BackendEntry(f"198.18.1.{20 + i}", 1001, f"02:00:00:bb:01:{i:02x}",
                                         MACS["m0"], MACS["g0"]))
    maps.set_vip_rules(VIP, [VipRule(80, 6, 1, 0, 65537)])
    maps.write_ring(0, maglev.build_ring({"b1": 1, "b2": 2}, 65537), 1)


def _nft(ruleset: str | None) -> None:
    with inside(MUX):
        nft = nftables.Nftables()
        rc, _, err = nft.cmd(ruleset if ruleset else "delete table ip lbbench")
    if rc != 0 and ruleset:
        raise RuntimeError(f"nftables: {err.strip()}")


def run_live_bench(frames: int = 300_000) -> LiveFigures:
    """Three bounded runs of `frames` frames each: baseline, XDP LB, nftables."""
    root = loader.pin_root(PREFIX)
    loader.remove_root(root)
    try:
        with fabric() as idx:
            progs = {a: loader.load(build.simple_object(f"XDP_{a.upper()}"), root, a)
                     for a in ("drop", "pass")}
            progs["tx"] = loader.load(build.build("xdp_gen.c"), root, "gen")
            with progs["tx"].map("gen_tmpl") as tmpl:
                tmpl.update(struct.pack("=I", 0), _frame()[:64])
            lb = loader.load(build.lb_object(ring_slots=65537), root, "lb")
            with LbMaps(lb) as maps:
                _configure_lb(maps)
            _attach(GEN, "g0", progs["drop"])
            _attach(SINK, "s0", progs["drop"])
            gen_fd = progs["tx"].prog_fd()
            try:
                _attach(MUX, "m0", progs["drop"])
                base_cpu, _ = generate(gen_fd, idx["g0"], frames)
                _attach(MUX, "m0", lb)
                with LbMaps(lb) as maps:
                    tx0 = maps.global_counters()["tx"]
                    xdp_cpu, xdp_wall = generate(gen_fd, idx["g0"], frames)
                    xdp_fwd = maps.global_counters()["tx"] - tx0
                _attach(MUX, "m0", progs["pass"])
                _nft(NFT_RULES)
                tx0 = _tx_packets(MUX, "m1")
                nft_cpu, nft_wall = generate(gen_fd, idx["g0"], frames)
                nft_fwd = _tx_packets(MUX, "m1") - tx0
            finally:
                os.close(gen_fd)
    finally:
        loader.remove_root(root)
    if not xdp_fwd or not nft_fwd:
        raise RuntimeError(f"nothing forwarded (xdp {xdp_fwd}, nft {nft_fwd})")
    return LiveFigures(
        xdp_cpu_ns_per_pkt=max(0.0, (xdp_cpu - base_cpu) / xdp_fwd),
        nft_cpu_ns_per_pkt=max(0.0, (nft_cpu - base_cpu) / nft_fwd),
        xdp_pps=xdp_fwd / xdp_wall, nft_pps=nft_fwd / nft_wall, frames=frames)
