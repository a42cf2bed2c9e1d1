"""Client-side traffic for the live checks: TCP connections and UDP
exchanges from the client namespace, and echo backends in endpoint namespaces."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager

from lab.lb.netns_socket import socket_in
from lab.plan.lb_model import BackendSpec, LbSpec
from lab.verify.endpoints import EchoHandle, EchoPorts, Endpoint, endpoint, serve_all

ECHO_TCP = (80, 8080, 31337)  # what an HA-ports rule is probed on (any port must answer)
ECHO_UDP = (5353,)
DEFAULT_PORTS = EchoPorts(ECHO_TCP, ECHO_UDP)


def echo_ports(lb: LbSpec) -> EchoPorts:
    """Where an LB's backends must answer: each rule's backend port (not the
    frontend port of a remapped rule: a missing host-side rewrite then gets no
    answer), the probe's port, and the HA-ports probe ports."""
    tcp = {fe.listen_port for fe in lb.frontends if fe.protocol == "tcp"}
    udp = {fe.listen_port for fe in lb.frontends if fe.protocol == "udp"}
    tcp.add(lb.probe.port)
    if any(fe.port == 0 for fe in lb.frontends):
        tcp |= set(ECHO_TCP)
        udp |= set(ECHO_UDP)
    return EchoPorts(tuple(sorted(tcp)), tuple(sorted(udp)))


def _endpoint(lab: str | None, b: BackendSpec) -> Endpoint:
    if lab is None and b.vm:
        raise ValueError(f"VM backend {b.name}: starting its echo service needs the lab name")
    return endpoint(lab or "", b, b.namespace)


@contextmanager
def echo_backends(backends: list[BackendSpec], lab: str | None = None,
                  ports: EchoPorts = DEFAULT_PORTS) -> Iterator[dict[str, EchoHandle]]:
    """An echo server in every backend (name -> handle); all stopped after.
    VM backends get theirs through run-command, so only when `lab` is given."""
    procs: dict[str, EchoHandle] = {}
    try:
        procs.update(serve_all([_endpoint(lab, b) for b in backends if lab is not None or not b.vm], ports))
        yield procs
    finally:
        for p in procs.values():
            stop_echo(p)


def start_echo(b: BackendSpec, lab: str | None = None, ports: EchoPorts = DEFAULT_PORTS) -> EchoHandle:
    return _endpoint(lab, b).serve(ports)


def stop_echo(proc: EchoHandle) -> None:
    proc.kill()
    proc.wait(timeout=5)


class Conn:
    """A TCP connection from the client that asks 'who are you' on demand."""

    def __init__(self, namespace: str, vip: str, port: int, timeout: float = 2.0,
                 connect_timeout: float = 3.5):
        """connect_timeout covers one SYN retransmission (1 s) on a busy host."""
        self.sock = socket_in(namespace)
        self.sock.settimeout(connect_timeout)
        try:
            self.sock.connect((vip, port))
        except OSError:
            self.sock.close()
            raise
        self.sock.settimeout(timeout)
        self.local = self.sock.getsockname()
        self.peer = self.sock.getpeername()

    def ask(self) -> str:
        try:
            self.sock.sendall(b"who\n")
            data = self.sock.recv(256)
        except OSError as exc:
            return f"error: {exc.__class__.__name__}"
        return data.decode(errors="replace").strip() or "error: closed"

    def close(self) -> None:
        self.sock.close()


def one_shot(namespace: str, vip: str, port: int, timeout: float = 2.0) -> tuple[str, str]:
    """Connect, ask once, close: (backend name or 'error: ...', peer address)."""
    try:
        conn = Conn(namespace, vip, port, timeout, connect_timeout=timeout)
    except OSError as exc:
        return f"error: {exc.__class__.__name__}", ""
    try:
        return conn.ask(), conn.peer[0]
    finally:
        conn.close()


def udp_ask(namespace: str, vip: str, port: int, timeout: float = 2.0) -> str:
    sock = socket_in(namespace, kind=socket.SOCK_DGRAM)
    sock.settimeout(timeout)
    try:
        sock.connect((vip, port))
        sock.send(b"who")
        return sock.recv(256).decode(errors="replace")
    except OSError as exc:
        return f"error: {exc.__class__.__name__}"
    finally:
        sock.close()


def many(namespace: str, vip: str, port: int, count: int, budget_s: float) -> list[tuple[str, str]]:
    """Up to `count` one-shot connections, stopping when the time budget is spent."""
    deadline = time.monotonic() + budget_s
    results = []
    for _ in range(count):
        if time.monotonic() > deadline:
            break
        # 3 s: room for one SYN retransmission (1 s), as any real client allows
        results.append(one_shot(namespace, vip, port, timeout=3.0))
    return results
