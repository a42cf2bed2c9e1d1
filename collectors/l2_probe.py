#!/usr/bin/env python3
"""Send frames that a flooding fabric would spread: unicast to a MAC nobody
owns, and ARP requests for an address nobody has. Standalone (Scapy only).

  l2_probe.py --iface eth0 --count 5
"""

from __future__ import annotations

import argparse
import json
import sys

UNKNOWN_MAC = "02:de:ad:00:be:ef"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iface", default="eth0")
    parser.add_argument("--count", type=int, default=5)
    parser.add_argument("--unknown-ip", default="100.127.255.254", help="an address nobody owns")
    args = parser.parse_args(argv)
    if not 1 <= args.count <= 1000:
        parser.error("--count 1..1000")
    from scapy.arch import get_if_addr, get_if_hwaddr
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import ARP, Ether
    from scapy.sendrecv import sendp

    mac, ip = get_if_hwaddr(args.iface), get_if_addr(args.iface)
    unicast = Ether(src=mac, dst=UNKNOWN_MAC) / IP(src=ip, dst=args.unknown_ip) / UDP(dport=9) / b"flood?"
    arp = Ether(src=mac, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=mac, psrc=ip, pdst=args.unknown_ip)
    sendp([unicast, arp] * args.count, iface=args.iface, verbose=0)
    json.dump({"collector": "l2_probe", "iface": args.iface, "sent_unknown_unicast": args.count,
               "sent_broadcast": args.count, "unknown_mac": UNKNOWN_MAC}, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
