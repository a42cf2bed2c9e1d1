#!/usr/bin/env python3
"""Outage probe: an ICMP echo every --interval seconds from --source to a
target, for at most --max-s seconds; prints `ready` once the first reply
came (the caller may then break something), and at the end one JSON
document with every probe's send time (CLOCK_MONOTONIC, comparable across
processes on the host) and whether it was answered. A line on stdin marks
the moment something was broken (its time is reported as `mark`); it stops
early once --recovered consecutive replies were sent after the mark and after
any loss. Standalone (the standard library only: a raw ICMP socket); run it
inside a lab namespace.

  outage.py 100.64.1.4 --source 203.0.113.1 --interval 0.1 --max-s 30
"""

from __future__ import annotations

import argparse
import json
import os
import select
import socket
import struct
import sys
import time

ICMP_ECHO, ICMP_REPLY = 8, 0


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def _echo(ident: int, seq: int) -> bytes:
    payload = b"stacklab-outage"
    header = struct.pack("!BBHHH", ICMP_ECHO, 0, 0, ident, seq)
    return struct.pack("!BBHHH", ICMP_ECHO, 0, _checksum(header + payload), ident, seq) + payload


def _replies(sock: socket.socket, ident: int, target: str) -> list[int]:
    """Sequence numbers of the echo replies waiting on the socket."""
    seqs = []
    while select.select([sock], [], [], 0)[0]:
        packet, (src, _) = sock.recvfrom(2048)
        ihl = (packet[0] & 0x0F) * 4
        kind, _, _, rid, seq = struct.unpack("!BBHHH", packet[ihl:ihl + 8])
        if kind == ICMP_REPLY and rid == ident and src == target:
            seqs.append(seq)
    return seqs


def run(target: str, source: str, interval: float, max_s: float, recovered: int) -> dict:
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    if source:
        sock.bind((source, 0))
    ident = os.getpid() & 0xFFFF
    sent: dict[int, float] = {}
    answered: set[int] = set()
    start, seq, ready, streak, mark = time.monotonic(), 0, False, 0, None
    while time.monotonic() - start < max_s:
        if mark is None and select.select([sys.stdin], [], [], 0)[0] and sys.stdin.readline():
            mark, streak = time.monotonic(), 0
        seq = (seq + 1) & 0xFFFF
        sent[seq] = time.monotonic()
        try:
            sock.sendto(_echo(ident, seq), (target, 0))
        except OSError:
            pass  # no route for a moment: a lost probe
        deadline = sent[seq] + interval
        while (left := deadline - time.monotonic()) > 0:
            select.select([sock], [], [], left)
            answered.update(_replies(sock, ident, target))
        ok = seq in answered
        if ok and not ready:
            ready = True
            print("ready", flush=True)
        streak = streak + 1 if ok else 0
        if mark is not None and streak >= recovered:
            break
    return {"collector": "outage", "target": target, "source": source, "interval_s": interval, "mark": mark,
            "probes": [{"sent": t, "ok": s in answered} for s, t in sorted(sent.items(), key=lambda i: i[1])]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target")
    parser.add_argument("--source", default="")
    parser.add_argument("--interval", type=float, default=0.1)
    parser.add_argument("--max-s", type=float, default=30.0)
    parser.add_argument("--recovered", type=int, default=5, help="replies in a row after a loss that end it")
    args = parser.parse_args(argv)
    if not 0.01 <= args.interval <= 5 or not 0 < args.max_s <= 600 or not 1 <= args.recovered <= 100:
        parser.error("--interval 0.01..5 s, --max-s 0..600 s, --recovered 1..100")
    print(json.dumps(run(args.target, args.source, args.interval, args.max_s, args.recovered)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
