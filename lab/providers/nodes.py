"""The labs on this host and the nodes inside one, for `lab list`, `lab
exec`, `lab shell` and `lab capture` (containerlab's `inspect --all` and
`exec`, netlab's `status --all` and `connect`).

A node is anything a person may want a prompt on: a server or MUX, the ToR,
the client, a tenant gateway, a namespace endpoint (by its VM name or its
host name `ep.<name>`), all network namespaces; or a libvirt VM, reached
through its run-command agent (no guest network needed). Names resolve
against the plan the lab was brought up with, so a node of another lab, or
one the plan does not know, is never entered.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from lab.apply.netns import namespace_exists
from lab.model.problems import did_you_mean
from lab.paths import home, lab_dir, results_dir
from lab.plan.model import Plan
from lab.plan.naming import endpoint_host
from lab.providers.embedded import saved_plan
from lab.providers.state import known_labs


class NoSuchNodeError(LookupError):
    """A node name the lab's plan does not know (bad input: exit 2)."""


@dataclass(frozen=True)
class Node:
    name: str
    kind: str            # "netns" (entered with setns) or "vm" (run-command agent)
    role: str            # compute, mux, tor, client, gateway, endpoint, vm
    namespace: str = ""  # netns: the namespace; vm: its server's (where its tap is)


def nodes(plan: Plan) -> list[Node]:
    """Every node of the plan, hosts first, then VMs."""
    found = [Node(h.name, "netns", h.role, h.namespace) for h in plan.hosts]
    found += [Node(e.name, "vm", "vm", e.server_namespace) for e in plan.vms()]
    return found


def resolve(plan: Plan, name: str) -> Node:
    """The node called `name`: a host name, a namespace endpoint's VM name
    (its `ep.` host), or a VM; else NoSuchNodeError with the close names."""
    every = nodes(plan)
    by_name = {n.name: n for n in every}
    if name in by_name:
        return by_name[name]
    if endpoint_host(name) in by_name:
        return by_name[endpoint_host(name)]
    if name.startswith(f"{plan.lab}.") and name.split(".", 1)[1] in by_name:  # the namespace's own name
        return by_name[name.split(".", 1)[1]]
    names = [n.name for n in every]
    raise NoSuchNodeError(f"lab {plan.lab} has no node {name!r}{did_you_mean(name, names)}; "
                          f"nodes: {', '.join(names)}")


def _last_run(lab: str) -> dict[str, Any]:
    try:
        report = json.loads((results_dir(lab) / "verify" / "latest.json").read_text())
    except (OSError, ValueError):
        return {"last_verdict": None, "last_run": None}
    verdicts = {c.get("verdict") for c in report.get("checks", [])}
    verdict = next((v for v in ("fail", "error", "inconclusive", "pass", "skipped") if v in verdicts), None)
    return {"last_verdict": verdict, "last_run": (report.get("run") or {}).get("started_at")}


def _state(plan: Plan | None, lab: str) -> str:
    if plan is None:
        return "partial (run lab down)" if lab_dir(lab).exists() else "down"
    missing = sum(1 for h in plan.hosts if not namespace_exists(h.namespace))
    if missing == 0:
        return "up"
    return "down (namespaces gone: run lab up or lab down)" if missing == len(plan.hosts) \
        else f"degraded ({missing} of {len(plan.hosts)} namespaces missing)"


def list_labs() -> list[dict[str, Any]]:
    """Every lab this host holds state or results for: one row each, cheap
    to compute (no drift diff: that is `lab status`)."""
    results = home() / "results"
    labs = sorted(set(known_labs()) | ({p.name for p in results.iterdir() if p.is_dir()}
                                       if results.exists() else set()))
    rows = []
    for lab in labs:
        plan = saved_plan(lab) if lab_dir(lab).exists() else None
        provider = "ansible" if (lab_dir(lab) / "ansible").exists() else "embedded"
        rows.append({"lab": lab, "state": _state(plan, lab), "provider": provider,
                     "hosts": len(plan.hosts) if plan else 0,
                     "vms": len(plan.vms()) if plan else 0,
                     **_last_run(lab)})
    return rows
