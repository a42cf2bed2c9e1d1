"""`lab lb status`: VIPs, backends, health and counters of a lab's MUXes."""

from __future__ import annotations

import os
from dataclasses import asdict
from typing import Any

from rich.console import Console
from rich.table import Table

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


def render(data: list[dict[str, Any]], console: Console) -> None:
    if not data:
        console.print("no load balancer is running in this lab")
        return
    for mux in data:
        state = "[green]attached[/]" if mux["xdp_attached"] else "[red]NOT attached[/]"
        console.print(f"[bold]{mux['mux']}[/] XDP on {mux['interface']}: {state} "
                      f"(prog {mux['prog_id']}, affinity {'on' if mux['affinity'] else 'OFF'})")
        fe = Table("LB", "VIP", "port", "proto", "packets", "bytes", "new flows", title="frontends")
        for f in mux["frontends"]:
            fe.add_row(f["lb"], f["vip"], str(f["port"] or "HA"), f["protocol"], str(f["packets"]),
                       str(f["bytes"]), str(f["new_flows"]))
        console.print(fe)
        be = Table("LB", "backend", "address", "server", "health", "last probe", "packets",
                   "bytes", "new flows", title="backends")
        for b in mux["backends"]:
            health = "[green]up[/]" if b["healthy"] else "[red]down[/]"
            be.add_row(b["lb"], b["name"], b["address"], b["server"], health, b["last_probe"],
                       str(b["packets"]), str(b["bytes"]), str(b["new_flows"]))
        console.print(be)
        split = Table("VIP", "port", "backend", "packets", "bytes", "new flows",
                      title="per frontend and backend")
        for f in mux["frontends"]:
            for name, c in sorted(f["by_backend"].items()):
                split.add_row(f["vip"], str(f["port"] or "HA"), name, str(c["packets"]),
                              str(c["bytes"]), str(c["new_flows"]))
        console.print(split)
        console.print("counters: " + ", ".join(f"{k}={v}" for k, v in mux["counters"].items()))
