"""A tiny backend for the live tests: `python -m lab.verify.lb.echo NAME --tcp 80,8080 --udp 53`.

Every TCP connection gets one line per request line it sends ("NAME\\n"), so a
client can ask the same connection again and see whether it moved; an HTTP
GET gets a 200 with NAME as body (health probes). UDP datagrams are answered
with NAME. Meant to be started inside an endpoint namespace.
"""

from __future__ import annotations

import argparse
import selectors
import socket
import struct
import sys

IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)  # Linux value; Python < 3.12 lacks the name


def _listen(port: int, kind: int) -> socket.socket:
    s = socket.socket(socket.AF_INET, kind)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    if kind == socket.SOCK_STREAM:
        s.listen(1024)
    else:
        s.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
    s.setblocking(False)
    return s


def _answer(conn: socket.socket, name: bytes, sel: selectors.BaseSelector) -> None:
    try:
        data = conn.recv(4096)
    except OSError:
        data = b""
    if not data:
        sel.unregister(conn)
        conn.close()
        return
    if data.startswith(b"GET "):
        conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n%s\n" % (len(name) + 1, name))
        sel.unregister(conn)
        conn.close()
        return
    conn.sendall((name + b"\n") * max(1, data.count(b"\n")))


def _udp_reply(sock: socket.socket, raw: bytes) -> None:
    """Answer from the address the datagram was sent to (the VIP, on lo):
    an unconnected socket would otherwise pick eth0's address and the
    client, talking to the VIP, would drop the reply."""
    _, ancdata, _, peer = sock.recvmsg(2048, socket.CMSG_SPACE(12))
    cmsgs = []
    for level, kind, data in ancdata:
        if level == socket.IPPROTO_IP and kind == IP_PKTINFO:
            _, _, dst = struct.unpack("=I4s4s", data[:12])
            cmsgs.append((socket.IPPROTO_IP, IP_PKTINFO, struct.pack("=I4s4s", 0, dst, dst)))
    sock.sendmsg([raw], cmsgs, 0, peer)


def serve(name: str, tcp: list[int], udp: list[int]) -> None:
    sel = selectors.DefaultSelector()
    raw = name.encode()
    for port in tcp:
        sel.register(_listen(port, socket.SOCK_STREAM), selectors.EVENT_READ, "accept")
    for port in udp:
        sel.register(_listen(port, socket.SOCK_DGRAM), selectors.EVENT_READ, "udp")
    print("ready", flush=True)
    while True:
        for key, _ in sel.select():
            sock = key.fileobj
            if key.data == "accept":
                try:
                    conn, _ = sock.accept()
                except OSError:
                    continue
                conn.setblocking(True)
                sel.register(conn, selectors.EVENT_READ, "conn")
            elif key.data == "udp":
                _udp_reply(sock, raw)
            else:
                _answer(sock, raw, sel)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("name")
    ap.add_argument("--tcp", default="80")
    ap.add_argument("--udp", default="")
    args = ap.parse_args(argv)
    ports = [int(p) for p in args.tcp.split(",") if p]
    serve(args.name, ports, [int(p) for p in args.udp.split(",") if p])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
