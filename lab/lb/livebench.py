"""`lab bench lb`, live part: the XDP LB against an nftables L4 DNAT load
balancer (jhash + conntrack) on the same veth fabric and the same offered load.

Fabric (namespaces lbbench.gen / .mux / .sink, addresses from 198.18.1-2.0/24):
gen:g0 <-> mux:m0, mux:m1 <-> sink:s0. The generator is trafgen (netsniff-ng:
an AF_PACKET TX ring, one process) sending N copies of one TCP frame to the
VIP out of g0 into the MUX. BPF_PROG_TEST_RUN's live-frames mode would be
faster but the kernel refuses it here (EPERM), see ../shared/ENVIRONMENT.md.
The veth peer's XDP and the stack run in softirq in the sender's context (no
IRQ time accounting on this kernel), so trafgen's CPU time plus ksoftirqd's is
the whole cost; a run with XDP_DROP on m0 is the baseline subtracted to leave
the MUX's cost per forwarded packet.
- XDP: the LB on m0 encapsulates and XDP_TXes back to g0 (XDP_DROP there).
- nft: XDP_PASS on m0 (veth needs it to accept XDP frames), then prerouting
  DNAT by jhash to two addresses behind m1, conntrack, forwarding, s0 drops.
"""

from __future__ import annotations

import os
import resource
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import nftables
from pyroute2 import netns
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

from lab.apply.netns import inside, write_sysctl
from lab.apply.nsexec import run_in_namespace
from lab.lb import build, loader, maglev
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


def _children_cpu_ns() -> int:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return int((usage.ru_utime + usage.ru_stime) * 1e9)


def trafgen_config(frame: bytes, counters: tuple[int, ...] = ()) -> str:
    """trafgen's packet config for `frame`; the bytes at `counters` count up
    by one per packet (dinc: 0-255, wrapping), e.g. the low byte of the TCP
    source port for 256 flows."""
    body = ", ".join("dinc(0, 255, 1)" if i in counters else f"0x{b:02x}" for i, b in enumerate(frame))
    return f"{{ {body} }}\n"


def generate(frames: int, namespace: str = GEN, config: str | None = None,
             rate_pps: int | None = None) -> tuple[int, float]:
    """Send `frames` frames (by default copies of one frame) out of the
    namespace's g0 with trafgen; at `rate_pps` when given, else
    as fast as it can. Returns (CPU ns spent incl. softirq, wall seconds)."""
    with tempfile.NamedTemporaryFile("w", suffix=".cfg", prefix="lbbench-") as conf:
        conf.write(config or trafgen_config(_frame()))
        conf.flush()
        # one process; the host's socket memory and IRQ affinity left alone
        argv = ["trafgen", "--dev", "g0", "--in", conf.name, "--num", str(frames), "--cpus", "1",
                "--no-sock-mem", "--notouch-irq", "--no-cpu-stats"]
        argv += ["--rate", f"{rate_pps}pps"] if rate_pps else []
        for _ in range(3):  # on a busy host the TX ring's flush can meet a full socket buffer (EAGAIN)
            k0, c0, t0 = _ksoftirqd_ns(), _children_cpu_ns(), time.perf_counter()
            proc = run_in_namespace(namespace, argv, timeout=120)
            wall = time.perf_counter() - t0
            if proc.returncode == 0 or "temporarily unavailable" not in proc.stderr + proc.stdout:
                break
    if proc.returncode != 0:
        raise RuntimeError(f"trafgen exited {proc.returncode}: {(proc.stderr or proc.stdout).strip()[-300:]}")
    time.sleep(0.05)  # let deferred softirq work finish
    return _children_cpu_ns() - c0 + _ksoftirqd_ns() - k0, wall


def attach(ns: str, ifname: str, pinned: loader.Pinned) -> None:
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


ROUNDS = 3


def _round(frames: int, progs: dict[str, loader.Pinned], lb: loader.Pinned) -> dict[str, float]:
    """One baseline, one XDP LB and one nftables run: the two costs per
    forwarded packet above the baseline, and the forwarding rates."""
    if _has_nft_table():  # the previous round's DNAT would catch the baseline's frames
        _nft(None)
    attach(MUX, "m0", progs["drop"])
    base_cpu, _ = generate(frames)
    attach(MUX, "m0", lb)
    with LbMaps(lb) as maps:
        tx0 = maps.global_counters()["tx"]
        xdp_cpu, xdp_wall = generate(frames)
        xdp_fwd = maps.global_counters()["tx"] - tx0
    attach(MUX, "m0", progs["pass"])
    _nft(NFT_RULES)
    tx0 = _tx_packets(MUX, "m1")
    nft_cpu, nft_wall = generate(frames)
    nft_fwd = _tx_packets(MUX, "m1") - tx0
    if not xdp_fwd or not nft_fwd:
        raise RuntimeError(f"nothing forwarded (xdp {xdp_fwd}, nft {nft_fwd})")
    return {"xdp_cpu": (xdp_cpu - base_cpu) / xdp_fwd, "nft_cpu": (nft_cpu - base_cpu) / nft_fwd,
            "xdp_pps": xdp_fwd / xdp_wall, "nft_pps": nft_fwd / nft_wall}


def _has_nft_table() -> bool:
    with inside(MUX):
        rc, _, _ = nftables.Nftables().cmd("list table ip lbbench")
    return rc == 0


def run_live_bench(frames: int = 300_000) -> LiveFigures:
    """ROUNDS interleaved rounds of three bounded runs of `frames` frames
    each (baseline, XDP LB, nftables); the median of each figure. One run's
    CPU time is mostly trafgen's own, so a single difference is noisy; a
    median cost at or below zero means "below what this method resolves"
    and is reported as 0."""
    root = loader.pin_root(PREFIX)
    loader.remove_root(root)
    try:
        with fabric():
            progs = {a: loader.load(build.simple_object(f"XDP_{a.upper()}"), root, a)
                     for a in ("drop", "pass")}
            lb = loader.load(build.lb_object(ring_slots=65537), root, "lb")
            with LbMaps(lb) as maps:
                _configure_lb(maps)
            attach(GEN, "g0", progs["drop"])
            attach(SINK, "s0", progs["drop"])
            rounds = [_round(frames, progs, lb) for _ in range(ROUNDS)]
    finally:
        loader.remove_root(root)
    med = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
    return LiveFigures(
        xdp_cpu_ns_per_pkt=max(0.0, med["xdp_cpu"]), nft_cpu_ns_per_pkt=max(0.0, med["nft_cpu"]),
        xdp_pps=med["xdp_pps"], nft_pps=med["nft_pps"], frames=frames)
