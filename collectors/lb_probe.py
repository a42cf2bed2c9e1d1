#!/usr/bin/env python3
"""Probe a load-balancer frontend like a client would: N TCP connections (or
UDP requests) to VIP:port, each sending one line and reading one reply.
Reports, per attempt, whether it was answered, by which address (DSR: it
must be the VIP) and what the backend said. Standalone (standard library).

  lb_probe.py 192.0.2.10 80 --proto tcp --count 5 --timeout 3
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import time


def tcp_once(vip: str, port: int, timeout: float) -> dict:
    started = time.monotonic()
    try:
        with socket.create_connection((vip, port), timeout=timeout) as s:
            s.sendall(b"who\n")
            reply = s.recv(256).decode(errors="replace").strip()
            peer = s.getpeername()[0]
    except OSError as exc:
        return {"answered": False, "error": exc.__class__.__name__}
    return {"answered": bool(reply), "peer": peer, "reply": reply,
            "ms": round((time.monotonic() - started) * 1000, 2)}


def udp_once(vip: str, port: int, timeout: float) -> dict:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        try:
            s.sendto(b"who\n", (vip, port))
            data, (peer, _) = s.recvfrom(256)
        except OSError as exc:
            return {"answered": False, "error": exc.__class__.__name__}
    return {"answered": True, "peer": peer, "reply": data.decode(errors="replace").strip()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("vip")
    parser.add_argument("port", type=int)
    parser.add_argument("--proto", choices=("tcp", "udp"), default="tcp")
    parser.add_argument("--count", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=3.0)
    parser.add_argument("--budget", type=float, default=60.0, help="stop after this many seconds")
    parser.add_argument("--stop-on-miss", action="store_true",
                        help="stop at the first unanswered attempt (one miss already fails a check)")
    args = parser.parse_args(argv)
    if not 1 <= args.count <= 10000 or not 0 < args.timeout <= 30 or not 0 < args.budget <= 600:
        parser.error("--count 1..10000, --timeout 0..30 s, --budget 0..600 s")
    once = tcp_once if args.proto == "tcp" else udp_once
    deadline = time.monotonic() + args.budget
    attempts = []
    for _ in range(args.count):
        if time.monotonic() > deadline:
            break
        attempts.append(once(args.vip, args.port, args.timeout))
        if args.stop_on_miss and not attempts[-1]["answered"]:
            break
    answered = [a for a in attempts if a["answered"]]
    json.dump({"collector": "lb_probe", "vip": args.vip, "port": args.port, "proto": args.proto,
               "attempts": len(attempts), "answered": len(answered),
               "from_vip": sum(1 for a in answered if a.get("peer") == args.vip),
               "replies": sorted({a["reply"] for a in answered}), "results": attempts}, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
