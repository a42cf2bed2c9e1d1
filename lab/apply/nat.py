"""SNAT on tenant gateways with nftables (libnftables JSON API).

The whole table is owned by stacklab; its comment holds a digest of the
desired rules, so an unchanged table is left alone and a changed one is
replaced in one transaction.
"""

from __future__ import annotations

import json

from lab.apply.changes import Change
from lab.apply.nft import list_table, nft_run
from lab.plan.model import HostPlan
from lab.plan.naming import digest

TABLE = "stacklab"


def ruleset_tag(namespace: str) -> str | None:
    """The tag our rules carry as comment; "" for a table we did not tag; None if absent."""
    items = list_table(namespace, "ip", TABLE)
    if items is None:
        return None
    tags = {item["rule"].get("comment", "") for item in items if "rule" in item}
    return tags.pop() if len(tags) == 1 else ""


def _ruleset(host: HostPlan, tag: str) -> list[dict]:
    table = {"family": "ip", "name": TABLE}
    chain = {"family": "ip", "table": TABLE, "name": "postrouting", "type": "nat",
             "hook": "postrouting", "prio": 100, "policy": "accept"}
    cmds: list[dict] = [{"add": {"table": table}},
                        {"add": {"chain": chain}}]
    for snat in host.snat:
        prefixes = [{"prefix": {"addr": p.split("/")[0], "len": int(p.split("/")[1])}} for p in snat.sources]
        cmds.append({"add": {"rule": {"family": "ip", "table": TABLE, "chain": "postrouting", "expr": [
            {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}},
                       "right": {"set": prefixes}}},
            {"match": {"op": "==", "left": {"meta": {"key": "oifname"}}, "right": snat.out_ifname}},
            {"snat": {"addr": snat.to_address}},
        ], "comment": tag}}})
    return cmds


def diff_snat(host: HostPlan, exists: bool) -> list[Change]:
    if not host.snat:
        return []
    tag = "stacklab " + digest(json.dumps([s.model_dump() for s in host.snat], sort_keys=True))
    current = ruleset_tag(host.namespace) if exists else None
    if current == tag:
        return []

    def apply() -> None:
        cmds = _ruleset(host, tag)
        if current is not None:
            cmds.insert(0, {"delete": {"table": {"family": "ip", "name": TABLE}}})
        nft_run(host.namespace, cmds)

    targets = ", ".join(f"{','.join(s.sources)} -> {s.to_address}" for s in host.snat)
    return [Change(host.name, "update" if current else "create", "snat", targets, apply)]
