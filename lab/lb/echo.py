"""A tiny backend for the live tests: `python -m lab.lb.echo NAME --tcp 80,8080 --udp 53`.

Every TCP connection gets one line per request line it sends ("NAME\\n"), so a
client can ask the same connection again and see whether it moved; an HTTP
GET gets a 200 with NAME as body (health probes). UDP datagrams are answered
with NAME. Meant to be started inside an endpoint namespace.
"""

from __future__ import annotations

import argparse
import selectors
import socket
import sys


def _listen(port: int, kind: int) -> socket.socket:
    s = socket.socket(socket.AF_INET, kind)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    if kind == socket.SOCK_STREAM:
        s.listen(1024)
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
                data, peer = sock.recvfrom(2048)
                sock.sendto(raw, peer)
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
