"""Health probes: TCP connect or HTTP GET to each backend's tenant address,
from sockets living in the tenant gateway namespace. `threshold` consecutive
failures take a backend out of the Maglev rings; `threshold` consecutive
successes put it back (Azure LB semantics, interval and threshold from the
topology's probe section)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from lab.lb.netns_socket import socket_in
from lab.lb.spec import BackendSpec, LbSpec
from lab.model.topology import Probe


def probe_once(namespace: str, address: str, probe: Probe, timeout: float | None = None) -> bool:
    timeout = timeout if timeout is not None else min(1.0, probe.interval_s * 0.8)
    sock = socket_in(namespace)
    sock.settimeout(timeout)
    try:
        sock.connect((address, probe.port))
        if probe.protocol == "tcp":
            return True
        request = f"GET {probe.path} HTTP/1.0\r\nHost: {address}\r\nUser-Agent: stacklab-probe\r\n\r\n"
        sock.sendall(request.encode())
        status = sock.recv(64).split(b"\r\n", 1)[0].split()
        return len(status) >= 2 and status[1] == b"200"
    except OSError:
        return False
    finally:
        sock.close()


@dataclass
class Verdict:
    healthy: bool = True
    failures: int = 0
    successes: int = 0

    def observe(self, ok: bool, threshold: int) -> bool:
        """Record one probe; True when the health verdict flips."""
        if ok:
            self.successes, self.failures = self.successes + 1, 0
            if not self.healthy and self.successes >= threshold:
                self.healthy = True
                return True
        else:
            self.failures, self.successes = self.failures + 1, 0
            if self.healthy and self.failures >= threshold:
                self.healthy = False
                return True
        return False


OnFlip = Callable[[str, str, bool], None]  # (lb, backend, healthy)


class Prober:
    """Probes every backend of some LBs each interval until stopped."""

    def __init__(self, lbs: list[LbSpec], on_flip: OnFlip):
        self.lbs = lbs
        self.on_flip = on_flip
        self.verdicts: dict[tuple[str, str], Verdict] = {}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def round(self, lb: LbSpec) -> None:
        for b in lb.backends:
            self.check(lb, b)

    def check(self, lb: LbSpec, b: BackendSpec) -> None:
        ok = probe_once(lb.gateway_namespace, b.address, lb.probe)
        verdict = self.verdicts.setdefault((lb.name, b.name), Verdict())
        if verdict.observe(ok, lb.probe.threshold):
            self.on_flip(lb.name, b.name, verdict.healthy)

    def _loop(self, lb: LbSpec) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            self.round(lb)
            self._stop.wait(max(0.0, lb.probe.interval_s - (time.monotonic() - started)))

    def start(self) -> None:
        for lb in self.lbs:
            t = threading.Thread(target=self._loop, args=(lb,), name=f"probe-{lb.name}", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=5)
        self._threads.clear()


