"""The endpoint interface (lab.compute.endpoints: a namespace stand-in or a
libvirt VM) extended for the checks: a check asks an endpoint to probe
reachability or to serve the echo service; which mechanism does it (a
collector in the namespace, a script through the guest's run-command) is
this module's business only.
"""

from __future__ import annotations

import subprocess
import sys
from abc import abstractmethod
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from lab.apply.nsexec import popen_in_namespace, run_collector
from lab.compute import endpoints
from lab.verify.lb import vm_backend

PROBE_TIMEOUT = "1.0"
PROBE_TRIES = "3"  # a loaded 2-core machine may lose a first reply; never a reason to fail
EchoHandle = subprocess.Popen | vm_backend.VmEcho  # both have kill() and wait()


@dataclass(frozen=True)
class EchoPorts:
    tcp: tuple[int, ...]
    udp: tuple[int, ...]


class Endpoint(endpoints.Endpoint):
    """An endpoint (lab.compute.endpoints) the checks probe from and serve on."""

    @abstractmethod
    def reach(self, targets: list[str], tries: int) -> list[dict]:
        """[{target, reachable}] for ICMP echo from the endpoint."""

    @abstractmethod
    def serve(self, ports: EchoPorts) -> EchoHandle:
        """Start the echo service (answers its name) on the ports; kill() stops it."""


class NetnsEndpoint(endpoints.NetnsEndpoint, Endpoint):
    def reach(self, targets: list[str], tries: int) -> list[dict]:
        return reach_from(self.namespace, targets, "--tries", str(tries))

    def serve(self, ports: EchoPorts) -> EchoHandle:
        proc = popen_in_namespace(
            self.namespace, [sys.executable, "-m", "lab.verify.lb.echo", self.name,
                             "--tcp", ",".join(map(str, ports.tcp)), "--udp", ",".join(map(str, ports.udp))],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != b"ready":
            proc.kill()
            proc.wait()
            raise RuntimeError(f"echo backend {self.name} did not start in {self.namespace}")
        return proc


class VmEndpoint(endpoints.VmEndpoint, Endpoint):
    """The guest has busybox, no Python: ping and an `nc` echo (TCP only)."""

    def reach(self, targets: list[str], tries: int) -> list[dict]:
        attempt = " || ".join(["ping -c 1 -W 1 $t >/dev/null 2>&1"] * tries)
        script = (f"for t in {' '.join(targets)}; do if {attempt}; then echo \"$t ok\"; "
                  "else echo \"$t lost\"; fi; done")
        result = self.run(script, timeout=30 + 3 * tries * len(targets))
        answered = {line.split()[0] for line in result.output.splitlines() if line.endswith(" ok")}
        return [{"target": t, "reachable": t in answered} for t in targets]

    def serve(self, ports: EchoPorts) -> EchoHandle:
        return vm_backend.start(self.lab, self.name, ports.tcp)


def endpoint(lab: str, of: endpoints.Located, namespace: str | None) -> Endpoint:
    """An endpoint of the plan (EndpointPlan or LB BackendSpec) as the checks use it."""
    if endpoints.is_vm(of):
        return VmEndpoint(lab, of.name)
    assert namespace, f"{of.name}: a namespace endpoint without a namespace"
    return NetnsEndpoint(lab, of.name, namespace)


def reach_from(namespace: str, targets: list[str], *extra: str) -> list[dict]:
    return run_collector(namespace, "reach", *targets, "--timeout", PROBE_TIMEOUT, "--tries", PROBE_TRIES,
                         *extra)["results"]


def serve_all(endpoints: list[Endpoint], ports: EchoPorts) -> dict[str, EchoHandle]:
    """Start the echo service everywhere at once (each VM's run-command waits
    on its own slow guest); if one fails, none is left running."""
    if not endpoints:
        return {}
    with ThreadPoolExecutor(max_workers=min(8, len(endpoints))) as pool:
        futures = [(e.name, pool.submit(e.serve, ports)) for e in endpoints]
    handles = {name: f.result() for name, f in futures if f.exception() is None}
    failed = [f.exception() for _, f in futures if f.exception() is not None]
    if failed:
        for h in handles.values():
            h.kill()
        raise failed[0]  # type: ignore[misc]
    return handles
