"""Check names: `<group>.<subject>.<what>` everywhere, and the names checks had before.

A name starts with its group and has at least three dot-separated parts
(`fabric.red.mtu`, `lb.mux_pool.failover`, `storage.red-vm1/data1.randread`),
so a report, a JUnit case or an alert shows the name alone, never
`group.` in front again. A subject that stands for many (every tenant, every
frontend) contains an underscore (`all_tenants`): topology names cannot
(lab.model: lowercase letters, digits, '-'), so it never collides with a
tenant, MUX or load balancer called the same.

Names are keys: the history, the exporter's `check` label (and with it the
alerts and dashboards) and `lab regress` match checks across nights by name.
When a check is renamed, its old name goes into RENAMED, and the history
reads old rows under the new name (lab.report.history), so trends, baselines,
flaky markers and the failing-N-nights streak continue across the rename.
"""

from __future__ import annotations

# old name -> current name (docs/nightly.md, "Check names")
RENAMED: dict[str, str] = {
    "lb.mux_failover": "lb.mux_pool.failover",
    "lb.frontends": "lb.all_frontends.answer",
    "lb.no_rule": "lb.no_rule.all_vips",
    "baseline.secret_age": "baseline.secrets.age",
    "storage.iops": "storage.all_disks.iops",
    # fabric checks switched off by the topology reported under two parts
    "fabric.isolation": "fabric.all_tenants.isolation",
    "fabric.no_flooding": "fabric.bridges.no_flooding",
    # a fabric check that raised was reported under its function's name
    "underlay": "fabric.underlay.reachability_mtu",
    "tenant_reachability": "fabric.all_tenants.reachability",
    "tenant_mtu": "fabric.all_tenants.mtu",
    "isolation": "fabric.all_tenants.isolation",
    "vni_on_wire": "fabric.all_tenants.vni_on_wire",
    "no_flooding": "fabric.bridges.no_flooding",
}


def current_name(name: str) -> str:
    """The name a check has now, for a name found in an older run."""
    return RENAMED.get(name, name)


def names_of(name: str) -> list[str]:
    """Every name a check was stored under: the current one and its old ones."""
    return [name, *(old for old, new in RENAMED.items() if new == name)]


def name_problem(name: str, group: str) -> str | None:
    """Why `name` is not `<group>.<subject>.<what>`; None when it is."""
    parts = name.split(".")
    if parts[0] != group:
        return f"{name!r} does not start with its group {group!r}"
    if len(parts) < 3 or not all(parts[:3]):
        return f"{name!r} is not <group>.<subject>.<what> (at least three dot-separated parts)"
    return None
