#!/usr/bin/env python3
"""Capture VXLAN (UDP 4789) on every interface of this host for a while and
report each encapsulated frame: outer addresses, VNI, inner MACs and IPs.
Standalone (Scapy only). Frames are counted once: on the interface they
arrived on. Prints "listening" on stderr once the capture runs; stops after
--seconds or when standard input closes, whichever is first; then JSON.

  vxlan_capture.py --seconds 3 --max-packets 2000 [--pcap out.pcap]
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time

PACKET_OUTGOING = 4


def summarize(pkt) -> dict | None:
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether
    from scapy.layers.vxlan import VXLAN

    if VXLAN not in pkt or IP not in pkt:
        return None
    vx = pkt[VXLAN]
    inner = vx.payload if isinstance(vx.payload, Ether) else None
    inner_ip = inner[IP] if inner is not None and IP in inner else None
    return {
        "iface": str(pkt.sniffed_on),
        "outer_src": pkt[IP].src,
        "outer_dst": pkt[IP].dst,
        "udp_dport": pkt[UDP].dport,
        "vni": vx.vni,
        "inner_src_mac": inner.src if inner is not None else None,
        "inner_dst_mac": inner.dst if inner is not None else None,
        "inner_src_ip": inner_ip.src if inner_ip is not None else None,
        "inner_dst_ip": inner_ip.dst if inner_ip is not None else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--max-packets", type=int, default=2000)
    parser.add_argument("--port", type=int, default=4789)
    parser.add_argument("--pcap", help="also write the captured frames here")
    args = parser.parse_args(argv)
    if not 0 < args.seconds <= 120 or not 0 < args.max_packets <= 100000:
        parser.error("--seconds 0..120, --max-packets 1..100000")
    from scapy.layers.inet import UDP
    from scapy.layers.vxlan import VXLAN
    from scapy.packet import bind_layers
    from scapy.sendrecv import AsyncSniffer
    from scapy.utils import wrpcap

    bind_layers(UDP, VXLAN, dport=args.port)
    ready = threading.Event()
    sniffer = AsyncSniffer(filter=f"udp port {args.port}", store=True, count=args.max_packets,
                           lfilter=lambda p: getattr(p, "direction", None) != PACKET_OUTGOING,
                           started_callback=ready.set)
    sniffer.start()
    if not ready.wait(timeout=10):
        print("capture socket did not open", file=sys.stderr)
        return 1
    print("listening", file=sys.stderr, flush=True)
    closed = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), closed.set()), daemon=True).start()
    deadline = time.monotonic() + args.seconds
    while sniffer.running and not closed.is_set() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)  # frames still in flight
    packets = sniffer.stop() if sniffer.running else sniffer.results
    frames = [s for s in (summarize(p) for p in packets) if s]
    if args.pcap:
        wrpcap(args.pcap, packets)
    json.dump({"collector": "vxlan_capture", "seconds": args.seconds, "frames": frames,
               "pcap": args.pcap}, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
