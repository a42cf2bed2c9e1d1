"""Health probes: TCP connect or HTTP GET to each backend's tenant address,
from sockets living in the tenant gateway namespace. `threshold` consecutive
failures take a backend out of the Maglev rings; `threshold` consecutive
successes put it back (Azure LB semantics, interval and threshold from the
topology's probe section)."""

from __future__ import annotations

from dataclasses import dataclass

from lab.lb.netns_socket import socket_in
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
