"""`lab status`: what exists for a lab and whether it still matches its plan.

A host is healthy when its namespace exists and nothing drifted from the
plan (the same diff `up` uses, run without applying).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from lab.apply.netns import Sockets, marked_namespaces, namespace_exists
from lab.plan.naming import mark_for
from lab.providers import embedded, hooks


def _drift(plan) -> Counter[str]:
    with Sockets() as sockets:
        changes = [c for _, diff in embedded._phases(plan, sockets) for c in diff()]
    return Counter(c.host for c in changes)


def _real_servers(lab: str) -> dict[str, Any] | None:
    """What this machine knows of the lab's real servers (the ansible
    provider's status), if it was provisioned from here."""
    from lab.paths import lab_dir

    if not (lab_dir(lab) / "ansible").is_dir():
        return None
    from lab.providers.ansible.provider import AnsibleProvider

    return AnsibleProvider(None, None).status(lab)


def _health(namespace: str, drift: int) -> str:
    if not namespace_exists(namespace):
        return "missing"
    return "ok" if drift == 0 else f"drift ({drift} changes pending)"


def lab_status(lab: str) -> dict[str, Any]:
    plan = embedded.saved_plan(lab)
    if plan is None:
        leftovers = marked_namespaces(mark_for(lab))
        remote = _real_servers(lab)
        state = ("partial (run lab down)" if leftovers
                 else f"{remote['state']} on real servers (ansible)" if remote else "down")
        return {"lab": lab, "state": state, "servers": [], "fabric": [], "tenants": [], "endpoints": [],
                "leftover_namespaces": leftovers, **({"ansible": remote} if remote else {})}
    drift = _drift(plan)
    by_namespace = {h.namespace: h for h in plan.hosts}

    def host_row(h) -> dict[str, Any]:
        return {"name": h.name, "role": h.role, "namespace": h.namespace, "underlay_ip": h.underlay_ip,
                "health": _health(h.namespace, drift[h.name])}

    servers = [host_row(h) for h in plan.hosts if h.role in ("compute", "mux")]
    fabric = [host_row(h) for h in plan.hosts if h.role in ("tor", "client", "gateway", "vpn", "site")]
    sections = hooks.status_sections(lab)
    vm_health = {v["name"]: v.get("health", "unknown") for v in sections.get("vms", [])}
    endpoints = []
    for e in plan.endpoints:
        host = by_namespace.get(e.namespace or "")
        health = host_row(host)["health"] if host else vm_health.get(e.name, "unknown")
        endpoints.append({"name": e.name, "kind": e.kind, "tenant": e.tenant, "server": e.server,
                          "address": e.address, "mac": e.mac, "health": health,
                          "namespace": host.namespace if host else e.server_namespace})
    tenants = [{"name": t.name, "vni": t.vni, "subnets": list(t.subnets.values()),
                "gateway": t.gateway_underlay_ip} for t in plan.tenants]
    unhealthy = [r for r in servers + fabric + endpoints if r["health"] != "ok"]
    state = "up" if not unhealthy else f"degraded ({len(unhealthy)} unhealthy)"
    return {"lab": lab, "state": state, "servers": servers, "fabric": fabric, "tenants": tenants,
            "endpoints": endpoints, **sections}
