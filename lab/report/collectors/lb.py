"""Live LB counters for `lab exporter`, read from the BPF maps at each scrape,
and the MUX pool's BGP state (sessions, announced VIPs) from FRR."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from prometheus_client.core import Metric

from lab.lb.bgp import status as bgp_status
from lab.lb.state import muxes_of
from lab.lb.status import lb_status
from lab.report.live import LbBackendCounters, MuxBgpState, bgp_families, lb_families


class LbCollector:
    def __init__(self, lab: str):
        self.lab = lab

    def collect(self) -> Iterable[Metric]:
        counters, drops = [], {}
        for mux in lb_status(self.lab):
            frontends: dict[str, list[dict]] = {}
            for fe in mux["frontends"]:
                frontends.setdefault(fe["lb"], []).append(fe)
            for b in mux["backends"]:
                fes = frontends.get(b["lb"], [])
                # the datapath counts per backend across its LB's frontends
                fe = fes[0] if len(fes) == 1 else {"vip": "all", "port": 0, "protocol": "all"}
                counters.append(LbBackendCounters(
                    lb=b["lb"], vip=fe["vip"], port=fe["port"], protocol=fe["protocol"], backend=b["name"],
                    packets=b["packets"], bytes=b["bytes"], syns=b["new_flows"], healthy=b["healthy"]))
            for reason, value in mux["counters"].items():
                if reason.endswith("_drop"):
                    key = ("all", reason.removesuffix("_drop"))
                    drops[key] = drops.get(key, 0) + value
        return lb_families(self.lab, counters, drops) + bgp_families(self.lab, self._bgp())

    def _bgp(self) -> list[MuxBgpState]:
        return [MuxBgpState(mux=mux, peer=b["peer"], established=b["session"] == "Established",
                            bfd_up=b["bfd"] == "up", advertised=tuple(b["advertised"]),
                            accepted=b["tor"]["accepted"])
                for mux, b in bgp_status(self.lab).items()]


def lb_collector(_results_dir: Path, lab: str) -> LbCollector | None:
    return LbCollector(lab) if muxes_of(lab) else None
