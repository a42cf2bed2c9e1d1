"""`lab apply-host`: one host's planned fabric state applied to the machine
it runs on, with the embedded provider's appliers (used by the Ansible
`lab_agent` role on real servers: one code path for both worlds).

On a real server the NICs exist (nothing to create, hardware MAC kept), and
links, addresses and routes the plan does not mention are left alone.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError
from pyroute2 import IPRoute

from lab.apply import links, nat, phases, portmap
from lab.apply.changes import Change
from lab.apply.owned_table import delete_table, table_tag
from lab.plan.model import HostPlan, Plan


class PlanInputError(ValueError):
    """--plan or --host is wrong; the message names the flag and what is valid."""


def load_plan(path: Path, host: str) -> Plan:
    """The plan `lab_agent` ships ({"host": NAME, "plan": PLAN} or a bare plan), checked for `host`."""
    try:
        data = json.loads(path.read_text())
        plan = Plan.model_validate(data.get("plan", data))
    except (OSError, ValueError, ValidationError) as exc:
        raise PlanInputError(f"--plan {path}: not a stacklab plan ({str(exc).splitlines()[0]})") from None
    if host not in {h.name for h in plan.hosts}:
        raise PlanInputError(f"--host {host!r} is not in the plan; hosts: {', '.join(h.name for h in plan.hosts)}")
    return plan


def result_json(host: str, dry_run: bool, down: bool, changes: list[Change]) -> dict:
    """The `--format json` shape of `lab apply-host` (and of the host agent)."""
    return {"host": host, "dry_run": dry_run, "down": down, "changed": len(changes),
            "changes": [c.to_json() for c in changes]}


def real_host(host: HostPlan) -> HostPlan:
    """The NIC (a veth without master in the embedded lab) exists with its own
    MAC; ports of namespace stand-in endpoints have no meaning here."""
    kept = []
    for link in host.links:
        if link.kind == "veth" and link.master:
            continue
        kept.append(link.model_copy(update={"peer": None, "mac": None}) if link.kind == "veth" else link)
    return host.model_copy(update={"namespace": "", "links": kept})


def apply_host(plan: Plan, name: str, dry_run: bool = False) -> list[Change]:
    host = real_host(plan.host(name))
    done: list[Change] = []
    with IPRoute() as ipr:
        for _, phase in phases.host_phases(host, ipr, True, plan.mark, {}, prune=False):
            changes = phase()
            if dry_run:
                done += changes
                continue
            for change in changes:
                change.apply()
                done.append(change)
    return done


def remove_host(plan: Plan, name: str, dry_run: bool = False) -> list[Change]:
    """Undo what apply_host created: the lab's bridges and VXLAN devices (only
    those carrying the lab's mark), planned addresses and routes, the SNAT table."""
    host = real_host(plan.host(name))
    changes: list[Change] = []
    with IPRoute() as ipr:
        seen = links.observe_links(ipr)
        for spec in host.links:
            have = seen.get(spec.name)
            if spec.kind in ("bridge", "vxlan") and have and have.alias == plan.mark:
                changes.append(Change(name, "delete", "link", spec.name,
                                      lambda i=have.index: ipr.link("del", index=i)))
        for addr in host.addresses:
            have = seen.get(addr.ifname)
            if have and addr.ifname not in {s.name for s in host.links if s.kind in ("bridge", "vxlan")}:
                ip, plen = addr.cidr.split("/")
                if any(a.get("IFA_ADDRESS") == ip for a in ipr.get_addr(index=have.index)):
                    changes.append(Change(name, "delete", "address", addr.cidr,
                                          lambda i=have.index, a=ip, p=int(plen): ipr.addr("del", index=i,
                                                                                            address=a, prefixlen=p)))
        for mod, wanted in ((nat, host.snat), (portmap, host.port_maps)):
            if wanted and table_tag("", mod.FAMILY, mod.TABLE) is not None:
                changes.append(Change(name, "delete", "nft", mod.TABLE,
                                      lambda m=mod: delete_table("", m.FAMILY, m.TABLE)))
        if not dry_run:
            for change in changes:
                change.apply()
    return changes
