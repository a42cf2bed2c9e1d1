"""Kernel state of one lab namespace, as plain JSON: links, addresses,
routes, bridge/VXLAN forwarding entries, neighbours and the nftables
ruleset. Read through netlink (pyroute2) and libnftables inside the
namespace, never by parsing `ip` output, so a snapshot is the kernel's own
view at collection time. `python -m lab.ops.snapshot` prints the snapshot
of the namespace it runs in (a real server's own, for the Ansible
log_collect role, through the host's stacklab bundle)."""

from __future__ import annotations

import socket
import time
from typing import Any

from pyroute2 import IPRoute
from pyroute2.netlink.rtnl import ndmsg

from lab.apply.netns import inside, namespace_exists
from lab.apply.nft import nft_run

STATES = {v: k for k, v in ndmsg.states.items() if k != "none"}


def _kind(msg: Any) -> str | None:
    info = msg.get("IFLA_LINKINFO")
    return info.get("IFLA_INFO_KIND") if info else None


def _links(ipr: IPRoute) -> tuple[list[dict], dict[int, str]]:
    msgs = ipr.get_links()
    names = {m["index"]: m.get("IFLA_IFNAME") for m in msgs}
    links = [{"index": m["index"], "name": m.get("IFLA_IFNAME"), "kind": _kind(m),
              "state": m.get("IFLA_OPERSTATE"), "up": bool(m["flags"] & 1), "mtu": m.get("IFLA_MTU"),
              "mac": m.get("IFLA_ADDRESS"), "master": names.get(m.get("IFLA_MASTER")),
              "alias": m.get("IFLA_IFALIAS"), "xdp_prog_id": _xdp(m)} for m in msgs]
    return links, names


def _xdp(msg: Any) -> int | None:
    xdp = msg.get("IFLA_XDP")
    return (xdp.get("IFLA_XDP_PROG_ID") or None) if xdp else None


def _states(value: int) -> list[str]:
    return sorted(name for bit, name in STATES.items() if value & bit)


def _tables(ipr: IPRoute, names: dict[int, str]) -> dict[str, list[dict]]:
    addresses = [{"ifname": names.get(m["index"]), "cidr": f"{m.get('IFA_ADDRESS')}/{m['prefixlen']}"}
                 for m in ipr.get_addr(family=socket.AF_INET)]
    routes = [{"dst": f"{m.get('RTA_DST')}/{m['dst_len']}" if m.get("RTA_DST") else "default",
               "via": m.get("RTA_GATEWAY"), "dev": names.get(m.get("RTA_OIF")), "table": m.get("RTA_TABLE"),
               "multipath": [{"via": nh.get("RTA_GATEWAY"), "dev": names.get(nh["oif"])}
                             for nh in m.get("RTA_MULTIPATH") or []]}
              for m in ipr.get_routes(family=socket.AF_INET)]
    fdb = [{"ifname": names.get(m["ifindex"]), "mac": m.get("NDA_LLADDR"), "dst": m.get("NDA_DST"),
            "master": names.get(m.get("NDA_MASTER")), "state": _states(m["state"])}
           for m in ipr.fdb("dump")]
    neighbours = [{"ifname": names.get(m["ifindex"]), "ip": m.get("NDA_DST"), "mac": m.get("NDA_LLADDR"),
                   "state": _states(m["state"])} for m in ipr.get_neighbours(family=socket.AF_INET)]
    return {"addresses": addresses, "routes": routes, "fdb": fdb, "neighbours": neighbours}


def namespace_snapshot(namespace: str) -> dict[str, Any]:
    """The namespace's tables ("" = this process's own); LookupError when it does not exist."""
    if namespace and not namespace_exists(namespace):
        raise LookupError(f"namespace {namespace} does not exist")
    with inside(namespace):
        ipr = IPRoute()
    with ipr:
        links, names = _links(ipr)
        tables = _tables(ipr, names)
    return {"namespace": namespace, "taken_at": time.time(), "links": links, **tables,
            "nftables": nft_ruleset(namespace)}


def nft_ruleset(namespace: str) -> list[dict] | str:
    """The whole ruleset as libnftables JSON; the error text if it cannot be read."""
    try:
        return nft_run(namespace, [{"list": {"ruleset": None}}]).get("nftables", [])
    except (RuntimeError, OSError) as exc:
        return f"unreadable: {exc}"


if __name__ == "__main__":  # pragma: no cover - run on a host by the log_collect role
    import json
    import sys

    json.dump(namespace_snapshot(""), sys.stdout, default=str)
