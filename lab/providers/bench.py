"""`lab bench fabric`: build and tear down a generated N-server lab, timed."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from lab.model.topology import Topology
from lab.plan.planner import build_plan
from lab.providers import embedded

CLUSTER_SIZE = 12


TENANTS_PER_CLUSTER = 2


def generated_topology(servers: int, name: str = "bench") -> Topology:
    """N compute servers in clusters of 12 (the hyper-converged limit), one MUX;
    each cluster carries two tenants spanning all its servers, every server
    one namespace endpoint of each. All tenants share 100.64.0.0/16. Tenants
    stay within their scale unit, so the work per server is constant: a
    single tenant spanning every server would make the FDB full mesh grow as
    N squared, whatever the implementation."""
    clusters = (servers + CLUSTER_SIZE - 1) // CLUSTER_SIZE
    prefix = 22 if servers + clusters * TENANTS_PER_CLUSTER > 200 else 24
    tenants = [f"t{c + 1}{'ab'[k]}" for c in range(clusters) for k in range(TENANTS_PER_CLUSTER)]
    data = {
        "name": name,
        "underlay": {"subnet": f"198.18.0.0/{prefix}"},
        "servers": [{"name": f"hv{i + 1}", "cluster": f"c{i // CLUSTER_SIZE + 1}"} for i in range(servers)]
        + [{"name": "mux1", "role": "mux"}],
        "tenants": [{"name": t, "vni": 1001 + i, "subnets": [{"name": "net", "prefix": "100.64.0.0/16"}]}
                    for i, t in enumerate(tenants)],
        "vms": [{"name": f"ep{i + 1}{'ab'[k]}", "tenant": f"t{i // CLUSTER_SIZE + 1}{'ab'[k]}",
                 "server": f"hv{i + 1}", "kind": "netns"}
                for i in range(servers) for k in range(TENANTS_PER_CLUSTER)],
    }
    return Topology.model_validate(data)


def measure(servers: int) -> dict[str, float | int]:
    plan = build_plan(generated_topology(servers))
    embedded.down(plan.lab)  # start clean
    start = time.monotonic()
    try:
        embedded.up(plan)
        up_s = time.monotonic() - start
    finally:
        start = time.monotonic()
        embedded.down(plan.lab)
        down_s = time.monotonic() - start
    return {"servers": servers, "up_s": round(up_s, 3), "down_s": round(down_s, 3)}


def bench_fabric(
    servers: Annotated[int, typer.Option("--servers", min=1, max=250, help="Compute servers to generate")] = 32,
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
) -> None:
    """Time `up` and `down` of a generated lab with N servers."""
    from lab.cli import check_format, emit, out, require_root

    check_format(fmt, ("table", "json"))
    require_root("the fabric benchmark creates namespaces")
    result = measure(servers)
    if fmt == "json":
        emit(result, "json")
    else:
        out.print(f"fabric with {servers} servers: up {result['up_s']:.2f} s, down {result['down_s']:.2f} s")
