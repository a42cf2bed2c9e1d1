"""Live fabric counters for `lab exporter`: every planned interface of every
host (underlay NICs, VXLAN devices, tenant bridges) and the static FDB size."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from prometheus_client.core import Metric

from lab.apply.netns import Sockets, namespace_exists
from lab.providers.embedded import saved_plan
from lab.report.live import FabricInterfaceCounters, fabric_families

IFF_UP = 0x1


class FabricCollector:
    def __init__(self, lab: str):
        self.lab = lab

    def collect(self) -> Iterable[Metric]:
        plan = saved_plan(self.lab)
        if plan is None:
            return []
        counters = []
        with Sockets() as sockets:
            for host in plan.hosts:
                if host.role == "endpoint" or not namespace_exists(host.namespace):
                    continue
                planned = {link.name for link in host.links}
                for msg in sockets(host.namespace).get_links():
                    name = msg.get("IFLA_IFNAME")
                    stats = msg.get("IFLA_STATS64")
                    if name in planned and stats is not None:
                        counters.append(FabricInterfaceCounters(
                            server=host.name, interface=name, rx_packets=stats["rx_packets"],
                            tx_packets=stats["tx_packets"], rx_bytes=stats["rx_bytes"],
                            tx_bytes=stats["tx_bytes"], rx_dropped=stats["rx_dropped"],
                            tx_dropped=stats["tx_dropped"], up=bool(msg["flags"] & IFF_UP)))
        fdb = Counter()
        for host in plan.hosts:
            for entry in host.fdb:
                fdb[(host.name, int(entry.ifname.removeprefix("vx")))] += 1
        return fabric_families(self.lab, counters, fdb)


def fabric_collector(_results_dir: Path, lab: str) -> FabricCollector | None:
    return FabricCollector(lab) if saved_plan(lab) is not None else None
