"""Where a command runs in a lab, behind one interface: a network namespace
(a server, the ToR, a namespace stand-in endpoint), entered with setns, or a
libvirt VM, reached through its run-command agent (no guest network needed).

Callers (`lab exec`, `lab shell`, the LB's host side, the checks' endpoints
in lab.verify) ask an endpoint to run something or to hold a VIP; which
mechanism does it is this module's business only, and the only place that
tells the two kinds apart.
"""

from __future__ import annotations

import shlex
import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from typing import ClassVar, Protocol

from pyroute2 import IPRoute

from lab.apply.netns import inside, namespace_exists, write_sysctl
from lab.apply.nsexec import popen_in_namespace, run_in_namespace
from lab.compute.agent import RunResult
from lab.compute.operations import DSR_SYSCTLS, add_vips, exec_vm
from lab.paths import lab_dir

VM = "vm"  # the kind of a libvirt guest in the topology and the plan; anything else has a namespace
DEFAULT_VM_TIMEOUT_S = 120.0  # the guest kills a command after this long


class Located(Protocol):
    """What the plan says of an endpoint: EndpointPlan, an LB backend, a node."""

    name: str
    kind: str


class Endpoint(ABC):
    is_vm: ClassVar[bool]

    def __init__(self, lab: str, name: str) -> None:
        """`lab` finds a VM's agent; a namespace needs only its name."""
        self.lab, self.name = lab, name

    @abstractmethod
    def run(self, command: str, timeout: float) -> RunResult:
        """Run a shell command line; its output captured."""

    @abstractmethod
    def exec(self, command: list[str] | str, timeout: float | None = None) -> int:
        """Run a command (argv, or a shell line) with its output on this
        process's stdout; its exit code."""

    @abstractmethod
    def add_vips(self, vips: list[str]) -> None:
        """Hold load-balancer VIPs on lo without ARPing for them (a DSR
        backend answers from the VIP itself); idempotent."""

    # A load balancer's host side (lab.lb.hostside) puts the VIPs of its
    # rules on its backends and takes them off; whose job that is depends on
    # the endpoint, so the endpoint answers.
    @abstractmethod
    def add_lb_vip(self, vip: str) -> bool:
        """Hold the VIP for a load balancer this endpoint backs; False when
        the endpoint's VIPs are not the load balancer's to add."""

    @abstractmethod
    def has_lb_vip(self, vip: str) -> bool:
        """Whether the load balancer finds nothing to add for the VIP."""

    @abstractmethod
    def remove_lb_vip(self, vip: str) -> None:
        """The VIP off lo once no rule of the load balancer needs it; idempotent."""

    def missing(self) -> str | None:
        """Why the endpoint cannot be entered now, or None."""
        return None


class NetnsEndpoint(Endpoint):
    is_vm = False

    def __init__(self, lab: str, name: str, namespace: str) -> None:
        super().__init__(lab, name)
        self.namespace = namespace

    def run(self, command: str, timeout: float) -> RunResult:
        started = time.monotonic()
        proc = run_in_namespace(self.namespace, ["sh", "-c", command], timeout=timeout)
        return RunResult(proc.returncode, proc.stdout + proc.stderr, time.monotonic() - started)

    def exec(self, command: list[str] | str, timeout: float | None = None) -> int:
        """Raises FileNotFoundError when the command does not exist in the namespace."""
        argv = ["sh", "-c", command] if isinstance(command, str) else command
        proc = popen_in_namespace(self.namespace, argv)
        try:
            return proc.wait(timeout)
        except KeyboardInterrupt:
            proc.terminate()
            return proc.wait()

    @contextmanager
    def _lo(self) -> Iterator[tuple[IPRoute, int, set[str]]]:
        """Netlink in the namespace: its lo's index and addresses."""
        with inside(self.namespace):
            ipr = IPRoute()
        with ipr:
            lo = ipr.link_lookup(ifname="lo")[0]
            yield ipr, lo, {a.get_attr("IFA_ADDRESS") for a in ipr.get_addr(index=lo)}

    def add_vips(self, vips: list[str]) -> None:
        with self._lo() as (ipr, lo, have):
            for vip in (v for v in vips if v not in have):
                ipr.addr("add", index=lo, address=vip, prefixlen=32)
        for key, value in DSR_SYSCTLS:
            write_sysctl(self.namespace, key, value)

    def add_lb_vip(self, vip: str) -> bool:
        """A stand-in's VIPs are the load balancer's: netlink on its lo."""
        self.add_vips([vip])
        return True

    def has_lb_vip(self, vip: str) -> bool:
        """False when the namespace is gone."""
        try:
            with self._lo() as (_, _, have):
                return vip in have
        except OSError:
            return False

    def remove_lb_vip(self, vip: str) -> None:
        try:
            with self._lo() as (ipr, lo, have):
                if vip in have:
                    ipr.addr("del", index=lo, address=vip, prefixlen=32)
        except OSError:
            return  # the namespace is already gone

    def missing(self) -> str | None:
        return None if namespace_exists(self.namespace) else f"namespace {self.namespace} is gone"


class VmEndpoint(Endpoint):
    """Raises lab.compute.operations.VmNotFound or lab.compute.agent.AgentError
    when the guest cannot be reached or refuses."""

    is_vm = True

    def __init__(self, lab: str, name: str, server_namespace: str = "") -> None:
        super().__init__(lab, name)
        self.server_namespace = server_namespace  # where its tap is

    def run(self, command: str, timeout: float) -> RunResult:
        return exec_vm(self.lab, lab_dir(self.lab), self.name, command, timeout)

    def add_vips(self, vips: list[str]) -> None:
        add_vips(self.lab, lab_dir(self.lab), self.name, vips)

    # A VM's VIPs are compute's: every VIP the plan's load balancers give it
    # goes on its lo at boot and on `lab up` (lab.compute.vms.lb_vips, in
    # compute's diff), so the load balancer has nothing to add or remove.
    def add_lb_vip(self, vip: str) -> bool:
        return False

    def has_lb_vip(self, vip: str) -> bool:
        return True

    def remove_lb_vip(self, vip: str) -> None:
        return None

    def exec(self, command: list[str] | str, timeout: float | None = None) -> int:
        line = command if isinstance(command, str) else shlex.join(command)
        result = self.run(line, timeout or DEFAULT_VM_TIMEOUT_S)
        sys.stdout.write(result.output)
        sys.stdout.flush()
        return result.exit_code


def is_vm(endpoint: Located) -> bool:
    return endpoint.kind == VM


def endpoint(lab: str, of: Located, namespace: str | None) -> Endpoint:
    """The endpoint of a plan object: a VM by name (its server's namespace
    kept for its tap), anything else in its namespace."""
    if is_vm(of):
        return VmEndpoint(lab, of.name, namespace or "")
    if not namespace:
        raise ValueError(f"{of.name}: a namespace endpoint without a namespace")
    return NetnsEndpoint(lab, of.name, namespace)
