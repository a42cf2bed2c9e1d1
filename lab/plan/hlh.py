"""The lifecycle host's part of the planner: one Redfish BMC endpoint per
server (compute and MUX), each listing the server and its VMs.

The BMCs live on the out-of-band network, modelled as the lifecycle host's
own namespace: every endpoint listens on its loopback, one port per server
in topology order, so the plan fixes each BMC's address. Nothing routes
between it and the data network, as on a rack whose BMC ports are on a
management switch of their own. Pure, like the whole planner.
"""

from __future__ import annotations

from lab.model.topology import Topology
from lab.plan.model import BmcPlan, LifecycleHostPlan, Plan
from lab.plan.naming import namespace_for

BMC_ADDRESS = "127.0.0.1"
BMC_FIRST_PORT = 8001
# '.' cannot occur in topology names: no server, ToR or gateway namespace can be this
HLH_SUFFIX = "oob.hlh"


def lifecycle_namespace(lab: str) -> str:
    return namespace_for(lab, HLH_SUFFIX)


def plan_lifecycle_host(plan: Plan, topo: Topology) -> Plan:
    vms: dict[str, list[str]] = {}
    for e in plan.vms():
        vms.setdefault(e.server, []).append(e.name)
    servers = [h for h in plan.hosts if h.role in ("compute", "mux")]
    bmcs = [BmcPlan(server=h.name, address=BMC_ADDRESS, port=BMC_FIRST_PORT + i, namespace=h.namespace,
                    vms=sorted(vms.get(h.name, []))) for i, h in enumerate(servers)]
    hlh = LifecycleHostPlan(namespace=lifecycle_namespace(plan.lab), bmcs=bmcs)
    return plan.model_copy(update={"lifecycle_host": hlh})
