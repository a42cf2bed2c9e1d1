"""Data disk plans (pure): a simple disk is one image file; a mirror3 disk
is three legs on three compute servers of its VM's cluster and a quorum
that votes over them.

Placement: the first leg is on the VM's own server, the other two on the
cluster's compute servers that hold the fewest legs so far (ties in the
topology's order), so a larger cluster spreads the copies and the same
topology always gives the same placement. The validator
(lab.model.checks._mirror_placement) has refused a cluster with fewer than
three compute servers, and the VM placement (lab.plan.planner) put an
`auto` VM with a mirror3 disk in a cluster that can hold it.
"""

from __future__ import annotations

from collections import Counter

from lab.model.topology import Topology, Vm
from lab.plan.model import DiskPlan, MirrorLegPlan
from lab.plan.naming import (
    data_disk_dev,
    data_disk_relpath,
    digest,
    mirror_leg_relpath,
    namespace_for,
    quorum_socket_relpath,
)

NBD_PORT = 10809  # IANA's port for NBD; one storage daemon per server listens on it
MIRROR_LEGS = 3
VOTE_THRESHOLD = 2  # a read or write succeeds when 2 of the 3 legs agree (one loss survived)


def cluster_peers(topo: Topology, server: str) -> list[str]:
    """The compute servers of `server`'s cluster, in the topology's order."""
    cluster = topo.server(server).cluster
    return [s.name for s in topo.servers if s.role == "compute" and s.cluster == cluster]


def mirror_capable(topo: Topology, server: str) -> bool:
    return len(cluster_peers(topo, server)) >= MIRROR_LEGS


def plan_disks(topo: Topology, placement: dict[str, str],
               underlay_ips: dict[str, str]) -> dict[str, list[DiskPlan]]:
    """Every VM's data disks, in the topology's order of VMs and disks."""
    load: Counter[str] = Counter()
    return {vm.name: [_disk(topo, vm, i, placement[vm.name], underlay_ips, load)
                      for i in range(len(vm.data_disks))] for vm in topo.vms}


def _disk(topo: Topology, vm: Vm, index: int, server: str, underlay_ips: dict[str, str],
          load: Counter[str]) -> DiskPlan:
    d = vm.data_disks[index]
    base = DiskPlan(name=d.name, size_gb=d.size_gb, tier=d.tier, iops_cap=d.iops_cap,
                    dev=data_disk_dev(index), resiliency=d.resiliency)
    if d.resiliency == "simple":
        return base.model_copy(update={"path": data_disk_relpath(vm.name, d.name)})
    others = sorted((s for s in cluster_peers(topo, server) if s != server),
                    key=lambda s, order=cluster_peers(topo, server): (load[s], order.index(s)))
    holders = [server, *others[:MIRROR_LEGS - 1]]
    load.update(holders)
    legs = [MirrorLegPlan(server=s, namespace=namespace_for(topo.name, s), address=underlay_ips[s],
                          port=NBD_PORT, export=f"{vm.name}/{d.name}",
                          node="leg-" + digest(vm.name, d.name, s, length=16),
                          path=mirror_leg_relpath(s, vm.name, d.name)) for s in holders]
    return base.model_copy(update={"legs": legs, "vote_threshold": VOTE_THRESHOLD,
                                   "quorum_socket": quorum_socket_relpath(vm.name, d.name)})
