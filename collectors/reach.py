#!/usr/bin/env python3
"""Reachability and path-MTU probe: ICMP echo to each target, optionally
with the DF bit set and a given IP packet size. Standalone (Scapy only); run
it on a host or inside a lab namespace. Prints one JSON document.

  reach.py 100.64.1.11 100.64.2.10 --size 1500 --df --timeout 1 --samples 7

RTTs come from packet timestamps (request sent, reply sniffed), not from the
wall time around Scapy's call; with --samples N a reachable target is probed
N times so a regression test has a distribution, not one number.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys

ICMP_HEADER = 8
IP_HEADER = 20


def _echo(target: str, size: int, df: bool, timeout: float, seq: int, source: str = ""):
    """One echo request: (reply or None, RTT in ms or None). OSError propagates."""
    from scapy.layers.inet import ICMP, IP
    from scapy.sendrecv import sr

    payload = b"\x00" * max(0, size - IP_HEADER - ICMP_HEADER)
    ip = IP(dst=target, flags="DF" if df else 0, **({"src": source} if source else {}))
    packet = ip / ICMP(id=0x5151, seq=seq) / payload
    answered, _ = sr(packet, timeout=timeout, verbose=0)
    if not answered:
        return None, None
    query, reply = answered[0]
    return reply, round((reply.time - query.sent_time) * 1000, 3)


def probe(target: str, size: int, df: bool, timeout: float, tries: int, samples: int = 1,
          source: str = "") -> dict:
    from scapy.config import conf
    from scapy.layers.inet import ICMP
    from scapy.supersocket import L3RawSocket

    conf.L3socket = L3RawSocket  # the kernel's IP stack: local MTU and DF apply as for real traffic

    result = {"target": target, "size": size, "df": df, "reachable": False, "rtt_ms": None, "reply": None,
              "rtt_samples_ms": []}
    for seq in range(1, tries + 1):
        try:
            reply, rtt = _echo(target, size, df, timeout, seq, source)
        except OSError as exc:  # EMSGSIZE: larger than the local MTU with DF set
            result["error"] = exc.strerror
            break
        if reply is None:
            continue
        icmp = reply.getlayer(ICMP)
        kind = (icmp.type, icmp.code) if icmp else None
        result["reply"] = {"src": reply.src, "icmp_type": kind[0] if kind else None,
                           "icmp_code": kind[1] if kind else None}
        if kind == (0, 0) and reply.src == target:
            result.update(reachable=True, rtt_samples_ms=[rtt])
            break
        if kind == (3, 4):  # fragmentation needed: a path MTU below `size`
            result["next_hop_mtu"] = icmp.nexthopmtu
            break
    extra = samples - 1 if result["reachable"] else 0
    for seq in range(tries + 1, tries + 1 + extra):
        _, rtt = _echo(target, size, df, timeout, seq, source)
        if rtt is not None:
            result["rtt_samples_ms"].append(rtt)
    if result["rtt_samples_ms"]:
        result["rtt_ms"] = statistics.median(result["rtt_samples_ms"])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("targets", nargs="+")
    parser.add_argument("--size", type=int, default=84, help="IP packet size in bytes")
    parser.add_argument("--df", action="store_true", help="set Don't Fragment")
    parser.add_argument("--timeout", type=float, default=1.0)
    parser.add_argument("--tries", type=int, default=2)
    parser.add_argument("--samples", type=int, default=1, help="RTT samples per reachable target")
    parser.add_argument("--source", default="", help="source address (one of the host's): what the network "
                                                     "does for traffic from it, not from the route's choice")
    args = parser.parse_args(argv)
    if (not 28 <= args.size <= 9216 or not 0 < args.timeout <= 10 or not 1 <= args.tries <= 10
            or not 1 <= args.samples <= 20):
        parser.error("--size 28..9216, --timeout 0..10 s, --tries 1..10, --samples 1..20")
    results = [probe(t, args.size, args.df, args.timeout, args.tries, args.samples, args.source)
               for t in args.targets]
    json.dump({"collector": "reach", "results": results}, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
