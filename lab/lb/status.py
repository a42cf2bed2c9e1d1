"""What `lab lb status` reports, as data: VIPs, backends, health and
counters of a lab's MUXes (rendered by lab.cli.lb_view)."""

from __future__ import annotations

import os
from dataclasses import asdict
from typing import Any

from lab.lb import loader
from lab.lb.bpfsys import obj_get, prog_id
from lab.lb.control import MuxController
from lab.lb.maps import total_stats
from lab.lb.state import muxes_of


def _mux_status(ctl: MuxController) -> dict[str, Any]:
    spec, st, maps = ctl.spec, ctl.state, ctl.maps
    try:
        attached = loader.attached_prog_id(spec.namespace, spec.ifname)
    except (OSError, loader.LoadError):
        attached = 0
    pinned_fd = obj_get(str(loader.pin_root(spec.lab) / spec.name / "lb"))
    try:
        loaded = prog_id(pinned_fd)
    finally:
        os.close(pinned_fd)
    pairs = maps.pair_stats()  # (rule, backend) -> counters: the datapath counts per pair
    names = {b.id: b.name for b in st.backends}
    frontends = []
    for r in st.rules:
        mine = {be: c for (vip_id, be), c in pairs.items() if vip_id == r.vip_id}
        s = total_stats(mine.values())
        frontends.append({"lb": r.lb, "vip": r.vip, "port": r.port, "protocol": r.protocol,
                          "vip_id": r.vip_id, "packets": s.packets, "bytes": s.bytes,
                          "new_flows": s.new_flows,
                          "by_backend": {names.get(be, f"#{be}"): asdict(c) for be, c in mine.items()}})
    backends = []
    for b in st.backends:
        s = total_stats(c for (_, be), c in pairs.items() if be == b.id)
        spec_b = next(x for x in spec.lb(b.lb).backends if x.name == b.name)
        backends.append({"lb": b.lb, "name": b.name, "address": spec_b.address,
                         "server": spec_b.server, "id": b.id, "healthy": b.healthy,
                         "last_probe": b.last_probe, "packets": s.packets, "bytes": s.bytes,
                         "new_flows": s.new_flows})
    return {"mux": spec.name, "interface": f"{spec.namespace}/{spec.ifname}",
            "xdp_attached": attached != 0 and attached == loaded, "prog_id": loaded,
            "affinity": st.affinity, "frontends": frontends, "backends": backends,
            "counters": maps.global_counters()}


def lb_status(lab: str) -> list[dict[str, Any]]:
    result = []
    for mux in muxes_of(lab):
        with MuxController.open(lab, mux) as ctl:
            result.append(_mux_status(ctl))
    return result
