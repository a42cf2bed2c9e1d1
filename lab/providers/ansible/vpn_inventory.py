"""The VPN gateway instances of the plan placed on real servers: inventory
group `vpn` and each of its hosts' `lab_vpn_tunnels` (site.yml runs the
`vpn` role once per item).

The embedded lab gives each instance a namespace of its own; on real servers
an instance is a tunnel end on a server: on the MUXes when the topology has
any (the network functions' hosts), else on the compute servers, taken in
turn, so a pair's active and standby land on two servers when there are two.
Each tunnel is the one the embedded lab renders (lab.vpn.render.tunnel_vars,
the same templates) with the server's underlay address as the tunnel's local
address, which the on-premises device then names as its peer. The on-premises
site itself is not ours on real servers: no host gets its end. Keys never
enter the inventory: the role reads them from `lab_vpn_secrets` in the vault.
"""

from __future__ import annotations

from typing import Any

from lab.plan.model import Plan
from lab.vpn.render import ends, tunnel_vars

VPN_GROUP = "vpn"


def placement(plan: Plan) -> dict[str, str]:
    """Gateway instance host -> the server it runs on."""
    servers = [s.name for s in plan.servers() if s.role == "mux"] or [s.name for s in plan.servers()]
    instances = [i.host for v in plan.vpns for i in v.instances]
    return {host: servers[n % len(servers)] for n, host in enumerate(instances)}


def vpn_hosts(plan: Plan) -> dict[str, dict[str, Any]]:
    """Server name -> {"lab_vpn_tunnels": [tunnel, ...]} for every server that carries an instance."""
    where = placement(plan)
    hosts: dict[str, dict[str, Any]] = {}
    for vpn in plan.vpns:
        for end in ends(vpn, vpn.active.host):
            if end.is_site:
                continue
            server = where[end.host]
            tunnel = {**tunnel_vars(vpn, end), "instance": end.host,
                      "local_address": plan.host(server).underlay_ip}
            hosts.setdefault(server, {"lab_vpn_tunnels": []})["lab_vpn_tunnels"].append(tunnel)
    return hosts
