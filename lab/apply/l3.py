"""Addresses, static routes and sysctls of one host: diff and apply."""

from __future__ import annotations

import socket

from pyroute2 import IPRoute

from lab.apply.changes import Change
from lab.apply.netns import read_sysctl, write_sysctl
from lab.plan.model import HostPlan

RTPROT_STATIC = 4
MAIN_TABLE = 254


def diff_addresses(host: HostPlan, ipr: IPRoute | None, prune: bool = True) -> list[Change]:
    names = {m["index"]: m.get("IFLA_IFNAME") for m in ipr.get_links()} if ipr else {}
    indexes = {name: index for index, name in names.items()}
    have: dict[tuple[str, str], int] = {}
    if ipr:
        for msg in ipr.get_addr(family=socket.AF_INET):
            key = (names.get(msg["index"], "?"), f"{msg.get('IFA_ADDRESS')}/{msg['prefixlen']}")
            have[key] = msg["index"]
    want = {(a.ifname, a.cidr) for a in host.addresses}
    changes = []
    for ifname, cidr in sorted(want - set(have)):
        addr, plen = cidr.split("/")

        def add(i=ifname, a=addr, p=int(plen)) -> None:
            ipr.addr("add", index=indexes[i], address=a, prefixlen=p)

        changes.append(Change(host.name, "create", "address", f"{cidr} on {ifname}", add))
    planned_links = {link.name for link in host.links}
    for (ifname, cidr), index in sorted(have.items()):
        if prune and ifname in planned_links and (ifname, cidr) not in want:
            addr, plen = cidr.split("/")
            changes.append(Change(
                host.name, "delete", "address", f"{cidr} on {ifname}",
                lambda i=index, a=addr, p=int(plen): ipr.addr("del", index=i, address=a, prefixlen=p)))
    return changes


def _route_key(msg) -> tuple[str, str]:
    dst = msg.get("RTA_DST")
    return (f"{dst}/{msg['dst_len']}" if dst else "default", msg.get("RTA_GATEWAY") or "")


def diff_routes(host: HostPlan, ipr: IPRoute | None, prune: bool = True) -> list[Change]:
    have = set()
    if ipr:
        have = {_route_key(m) for m in ipr.get_routes(family=socket.AF_INET, table=MAIN_TABLE)
                if m["proto"] == RTPROT_STATIC}
    want = {(r.dst, r.via) for r in host.routes}
    changes = []
    for dst, via in sorted(want - have):
        changes.append(Change(host.name, "create", "route", f"{dst} via {via}",
                              lambda d=dst, v=via: ipr.route("replace", dst=d if d != "default" else "0.0.0.0/0",
                                                             gateway=v, proto=RTPROT_STATIC)))
    for dst, via in sorted(have - want) if prune else ():
        changes.append(Change(host.name, "delete", "route", f"{dst} via {via}",
                              lambda d=dst, v=via: ipr.route("del", dst=d if d != "default" else "0.0.0.0/0",
                                                             gateway=v, proto=RTPROT_STATIC)))
    return changes


def diff_sysctls(host: HostPlan, exists: bool) -> list[Change]:
    changes = []
    for key, value in sorted(host.sysctls.items()):
        if exists and read_sysctl(host.namespace, key) == value:
            continue
        changes.append(Change(host.name, "update", "sysctl", f"{key}={value}",
                              lambda k=key, v=value: write_sysctl(host.namespace, k, v)))
    return changes
