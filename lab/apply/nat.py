"""SNAT on tenant gateways with nftables (libnftables JSON API), as one
stacklab-owned table (lab.apply.owned_table)."""

from __future__ import annotations

from lab.apply.changes import Change
from lab.apply.owned_table import diff_table, table_tag
from lab.plan.model import HostPlan

TABLE = "stacklab"
FAMILY = "ip"


def ruleset_tag(namespace: str) -> str | None:
    return table_tag(namespace, FAMILY, TABLE)


def _ruleset(host: HostPlan, tag: str) -> list[dict]:
    table = {"family": FAMILY, "name": TABLE}
    chain = {"family": FAMILY, "table": TABLE, "name": "postrouting", "type": "nat",
             "hook": "postrouting", "prio": 100, "policy": "accept"}
    cmds: list[dict] = [{"add": {"table": table}},
                        {"add": {"chain": chain}}]
    for snat in host.snat:
        prefixes = [{"prefix": {"addr": p.split("/")[0], "len": int(p.split("/")[1])}} for p in snat.sources]
        cmds.append({"add": {"rule": {"family": FAMILY, "table": TABLE, "chain": "postrouting", "expr": [
            {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}},
                       "right": {"set": prefixes}}},
            {"match": {"op": "==", "left": {"meta": {"key": "oifname"}}, "right": snat.out_ifname}},
            {"snat": {"addr": snat.to_address}},
        ], "comment": tag}}})
    return cmds


def diff_snat(host: HostPlan, exists: bool) -> list[Change]:
    targets = ", ".join(f"{','.join(s.sources)} -> {s.to_address}" for s in host.snat)
    return diff_table(host.name, host.namespace, FAMILY, TABLE, exists,
                      [s.model_dump() for s in host.snat], lambda tag: _ruleset(host, tag),
                      "snat", targets)
