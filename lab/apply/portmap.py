"""The SLB host agent's port rewrite on a server (frontends[].backend_port).

Ananta puts a host agent in every hypervisor's virtual switch: the MUX only
picks the backend and encapsulates, the host agent rewrites the inbound
packet for the backend and the backend's direct (DSR) reply on the way out.
Here the virtual switch is the server's tenant bridge, and the rewrite is a
bridge-family nftables table: frames to VIP:port get the backend port, replies
from VIP:backend_port get the frontend port back. Stateless and in the
bridge, so it works the same for VM (tap) and namespace (veth) backends; the
kernel fixes the TCP/UDP checksum. Each rule counts what it rewrote, which is
how `lab verify` proves the remapped port was really reached.
"""

from __future__ import annotations

from lab.apply.changes import Change
from lab.apply.nft import list_table
from lab.apply.owned_table import diff_table
from lab.plan.model import HostPlan, PortMapSpec

TABLE = "stacklab_slb"
FAMILY = "bridge"
CHAIN = "forward"


def _match(field: str, value: object, protocol: str = "ip") -> dict:
    return {"match": {"op": "==", "left": {"payload": {"protocol": protocol, "field": field}},
                      "right": value}}


def _rewrite(pm: PortMapSpec, inbound: bool, tag: str) -> dict:
    port_field, ip_field = ("dport", "daddr") if inbound else ("sport", "saddr")
    before, after = (pm.port, pm.backend_port) if inbound else (pm.backend_port, pm.port)
    return {"add": {"rule": {"family": FAMILY, "table": TABLE, "chain": CHAIN, "expr": [
        _match(ip_field, pm.vip),
        _match(port_field, before, pm.protocol),
        {"counter": None},
        {"mangle": {"key": {"payload": {"protocol": pm.protocol, "field": port_field}}, "value": after}},
    ], "comment": tag}}}


def _ruleset(host: HostPlan, tag: str) -> list[dict]:
    chain = {"family": FAMILY, "table": TABLE, "name": CHAIN, "type": "filter",
             "hook": "forward", "prio": -200, "policy": "accept"}
    cmds: list[dict] = [{"add": {"table": {"family": FAMILY, "name": TABLE}}}, {"add": {"chain": chain}}]
    for pm in host.port_maps:
        cmds += [_rewrite(pm, True, tag), _rewrite(pm, False, tag)]
    return cmds


def diff_port_maps(host: HostPlan, exists: bool) -> list[Change]:
    targets = ", ".join(f"{pm.vip}:{pm.port}->{pm.backend_port}/{pm.protocol}" for pm in host.port_maps)
    return diff_table(host.name, host.namespace, FAMILY, TABLE, exists,
                      [pm.model_dump() for pm in host.port_maps], lambda tag: _ruleset(host, tag),
                      "portmap", targets)


def rewrite_counts(namespace: str) -> dict[tuple[str, str, int], int]:
    """Packets rewritten so far, keyed (vip, "in"|"out", port before the rewrite)."""
    counts: dict[tuple[str, str, int], int] = {}
    for item in list_table(namespace, FAMILY, TABLE) or []:
        rule = item.get("rule")
        if not rule:
            continue
        matches = [e["match"] for e in rule["expr"] if "match" in e]
        packets = next((e["counter"]["packets"] for e in rule["expr"] if "counter" in e), 0)
        ip, port = matches[0], matches[1]
        direction = "in" if ip["left"]["payload"]["field"] == "daddr" else "out"
        counts[(ip["right"], direction, int(port["right"]))] = packets
    return counts
