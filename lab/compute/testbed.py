"""A minimal stand-in fabric for compute tests and `lab bench vms`: only the
server namespaces and tenant bridges VM taps plug into, no overlay. The real
fabric (lab.providers.embedded) builds these and much more; this lets compute
be exercised and measured on its own."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pyroute2 import IPRoute, netns

from lab.apply.netns import inside
from lab.compute import vms
from lab.plan.model import Plan


def build(plan: Plan) -> None:
    """Create each VM server's namespace (marked like the fabric's) and bridges."""
    bridges: dict[str, dict[str, int]] = {}
    for vm in vms.planned_vms(plan):
        bridges.setdefault(vm.server_namespace, {})[vm.bridge] = vm.mtu
    for ns, wanted in bridges.items():
        if ns not in netns.listnetns():
            netns.create(ns)
        with inside(ns):
            ipr = IPRoute()
        with ipr:
            ipr.link("set", index=1, ifalias=plan.mark, state="up")
            for name, mtu in wanted.items():
                if not ipr.link_lookup(ifname=name):
                    ipr.link("add", ifname=name, kind="bridge")
                ipr.link("set", index=ipr.link_lookup(ifname=name)[0], mtu=mtu, state="up")


def remove(plan: Plan) -> None:
    for ns in {vm.server_namespace for vm in vms.planned_vms(plan)}:
        if ns in netns.listnetns():
            netns.remove(ns)


@contextmanager
def testbed(plan: Plan, lab_dir: Path) -> Iterator[None]:
    """Namespaces and bridges for the plan's VMs; on exit (even on failure)
    VMs, disks and namespaces are removed."""
    try:
        build(plan)
        yield
    finally:
        try:
            vms.remove_vms(plan.lab, lab_dir)
        finally:
            remove(plan)
