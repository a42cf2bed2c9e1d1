"""A gateway instance forwards between its tunnel and its tenant only: from
the site's subnet to the tenant's subnets and back; anything else into or out
of the tunnel is dropped, and so is what the instance itself would send into
it from any other address (its public one answering the site's subnet)
(nftables, one stacklab-owned table, so the rest of the namespace's rules are
untouched)."""

from __future__ import annotations

from lab.apply.changes import Change
from lab.apply.owned_table import diff_table
from lab.plan.vpn_model import VpnInstanceSpec, VpnSpec

TABLE = "stacklab_vpn"
FAMILY = "ip"


def _prefixes(cidrs: list[str]) -> dict:
    return {"set": [{"prefix": {"addr": c.split("/")[0], "len": int(c.split("/")[1])}} for c in cidrs]}


def _match(field: str, cidrs: list[str]) -> dict:
    return {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": field}},
                      "right": _prefixes(cidrs)}}


def _iface(key: str, name: str) -> dict:
    return {"match": {"op": "==", "left": {"meta": {"key": key}}, "right": name}}


def _ruleset(vpn: VpnSpec, inst: VpnInstanceSpec, tag: str) -> list[dict]:
    chain = {"family": FAMILY, "table": TABLE, "name": "forward", "type": "filter", "hook": "forward",
             "prio": 0, "policy": "accept"}
    rules = [
        [_iface("iifname", inst.ifname), _match("saddr", [vpn.site_subnet]), _match("daddr", vpn.tenant_subnets),
         {"accept": None}],
        [_iface("oifname", inst.ifname), _match("saddr", vpn.tenant_subnets), _match("daddr", [vpn.site_subnet]),
         {"accept": None}],
        [_iface("iifname", inst.ifname), {"drop": None}],
        [_iface("oifname", inst.ifname), {"drop": None}],
    ]
    output = {**chain, "name": "output", "hook": "output"}
    own = [_iface("oifname", inst.ifname), {"match": {"op": "!=", "left": {"payload": {
        "protocol": "ip", "field": "saddr"}}, "right": _prefixes(vpn.tenant_subnets)}}, {"drop": None}]
    cmds: list[dict] = [{"add": {"table": {"family": FAMILY, "name": TABLE}}}, {"add": {"chain": chain}},
                        {"add": {"chain": output}}]
    cmds += [{"add": {"rule": {"family": FAMILY, "table": TABLE, "chain": "forward", "expr": expr,
                               "comment": tag}}} for expr in rules]
    cmds.append({"add": {"rule": {"family": FAMILY, "table": TABLE, "chain": "output", "expr": own,
                                  "comment": tag}}})
    return cmds


def diff(vpn: VpnSpec, inst: VpnInstanceSpec) -> list[Change]:
    content = [vpn.site_subnet, vpn.tenant_subnets, inst.ifname, "output"]
    return diff_table(inst.host, inst.namespace, FAMILY, TABLE, True, [content],
                      lambda tag: _ruleset(vpn, inst, tag), "vpn-filter",
                      f"forward {vpn.site_subnet} <-> {', '.join(vpn.tenant_subnets)} only")
