"""Count ICMP echo requests forwarded to each endpoint's bridge port, on
every server, with a temporary nftables bridge table (works for namespace
endpoints' veths and VM taps alike)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from lab.apply.nft import list_table, nft_run
from lab.plan.model import Plan

TABLE = "stacklab_probe"


def _rules(ports: list[str]) -> list[dict]:
    table = {"family": "bridge", "name": TABLE}
    chain = {"family": "bridge", "table": TABLE, "name": "fwd", "type": "filter", "hook": "forward",
             "prio": 0, "policy": "accept"}
    cmds: list[dict] = [{"add": {"table": table}}, {"add": {"chain": chain}}]
    for port in ports:
        cmds.append({"add": {"rule": {"family": "bridge", "table": TABLE, "chain": "fwd", "comment": port, "expr": [
            {"match": {"op": "==", "left": {"meta": {"key": "oifname"}}, "right": port}},
            {"match": {"op": "==", "left": {"payload": {"protocol": "icmp", "field": "type"}},
                       "right": "echo-request"}},
            {"counter": {"packets": 0, "bytes": 0}},
        ]}}})
    return cmds


@contextmanager
def count_icmp_per_port(plan: Plan) -> Iterator[Callable[[], dict[tuple[str, str], int]]]:
    """Yields a function returning {(server namespace, port): echo requests}."""
    ports: dict[str, list[str]] = {}
    for e in plan.endpoints:
        ports.setdefault(e.server_namespace, []).append(e.port)
    for ns, names in ports.items():
        nft_run(ns, _rules(names))

    def read() -> dict[tuple[str, str], int]:
        counts = {}
        for ns in ports:
            for item in list_table(ns, "bridge", TABLE) or []:
                rule = item.get("rule")
                if rule:
                    packets = next((x["counter"]["packets"] for x in rule["expr"] if "counter" in x), 0)
                    counts[(ns, rule.get("comment", ""))] = packets
        return counts

    try:
        yield read
    finally:
        for ns in ports:
            nft_run(ns, [{"delete": {"table": {"family": "bridge", "name": TABLE}}}])
