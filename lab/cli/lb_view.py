"""`lab lb status` (and the LB section of `lab status`) as tables."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


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
