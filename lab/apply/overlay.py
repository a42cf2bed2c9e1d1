"""VXLAN forwarding (FDB) and ARP-suppression (neighbour) tables of one VTEP.

Each remote MAC gets two static entries: on the VXLAN device ("self": MAC ->
remote VTEP) and on the bridge ("master": MAC -> VXLAN port), so the bridge
never floods to find it. Neighbour entries on the bridge let it answer ARP
locally (neigh_suppress), since broadcasts never cross VTEPs.
"""

from __future__ import annotations

import socket

from pyroute2 import IPRoute
from pyroute2.netlink.rtnl import ndmsg

from lab.apply.changes import Change
from lab.plan.model import HostPlan

NUD_PERMANENT = ndmsg.states["permanent"]
NUD_NOARP = ndmsg.states["noarp"]
NTF_MASTER = ndmsg.flags["master"]
NTF_SELF = ndmsg.flags["self"]


def _links(ipr: IPRoute | None) -> dict[str, tuple[int, int | None]]:
    """name -> (index, master index), from one dump; the phase before this
    one created every link, so indexes stay valid while its changes apply."""
    if ipr is None:
        return {}
    return {m.get("IFLA_IFNAME"): (m["index"], m.get("IFLA_MASTER")) for m in ipr.get_links()}


def _observe_fdb(ipr: IPRoute, index: int) -> tuple[set[tuple[str, str]], set[str]]:
    """(self entries as (mac, dst), static master entries as mac) on one VXLAN port."""
    selfs, masters = set(), set()
    for msg in ipr.fdb("dump", ifindex=index):
        mac, dst = msg.get("NDA_LLADDR"), msg.get("NDA_DST")
        if dst:  # including 00:00:00:00:00:00 (flood) entries, which the plan never wants
            selfs.add((mac, dst))
        elif msg.get("NDA_MASTER") and msg["state"] & NUD_NOARP and not msg["state"] & NUD_PERMANENT:
            masters.add(mac)
    return selfs, masters


def diff_fdb(host: HostPlan, ipr: IPRoute | None) -> list[Change]:
    changes = []
    links = _links(ipr)
    for vx in sorted({f.ifname for f in host.fdb} | {link.name for link in host.links if link.kind == "vxlan"}):
        index, master = links.get(vx, (None, None))
        selfs, masters = _observe_fdb(ipr, index) if index else (set(), set())
        want = {(f.mac, f.dst) for f in host.fdb if f.ifname == vx}
        changes += _fdb_changes(host.name, ipr, (vx, index, master), want, selfs, masters)
    return changes


def _fdb_changes(host, ipr, port, want, selfs, masters) -> list[Change]:
    vx, index, master = port

    def link(_name):
        return index

    def master_of(_name):
        return master

    changes = []
    for mac, dst in sorted(want - selfs):
        changes.append(Change(host, "create", "fdb", f"{mac} -> {dst} on {vx}",
                              lambda m=mac, d=dst: ipr.fdb("replace", ifindex=link(vx), lladdr=m, dst=d,
                                                          flags=NTF_SELF, state=NUD_PERMANENT | NUD_NOARP)))
    for mac, dst in sorted(selfs - want):
        changes.append(Change(host, "delete", "fdb", f"{mac} -> {dst} on {vx}",
                              lambda m=mac, d=dst: ipr.fdb("del", ifindex=link(vx), lladdr=m, dst=d, flags=NTF_SELF)))
    want_macs = {mac for mac, _ in want}
    for mac in sorted(want_macs - masters):
        changes.append(Change(host, "create", "fdb", f"{mac} static on bridge port {vx}",
                              lambda m=mac: ipr.fdb("replace", ifindex=link(vx), lladdr=m, master=master_of(vx),
                                                    flags=NTF_MASTER, state=NUD_NOARP)))
    for mac in sorted(masters - want_macs):
        changes.append(Change(host, "delete", "fdb", f"{mac} static on bridge port {vx}",
                              lambda m=mac: ipr.fdb("del", ifindex=link(vx), lladdr=m, master=master_of(vx),
                                                    flags=NTF_MASTER)))
    return changes


def diff_neighbours(host: HostPlan, ipr: IPRoute | None) -> list[Change]:
    bridges = sorted({n.ifname for n in host.neighbours} |
                     {link.name for link in host.links if link.kind == "bridge" and host.role != "tor"})
    changes = []
    links = _links(ipr)
    for br in bridges:
        index = links.get(br, (None, None))[0]
        have = set()
        if index:
            have = {(m.get("NDA_DST"), m.get("NDA_LLADDR"))
                    for m in ipr.get_neighbours(ifindex=index, family=socket.AF_INET)
                    if m["state"] & NUD_PERMANENT}
        want = {(n.ip, n.mac) for n in host.neighbours if n.ifname == br}
        for ip, mac in sorted(want - have):
            changes.append(Change(host.name, "create", "neigh", f"{ip} is-at {mac} on {br}",
                                  lambda i=ip, m=mac, x=index: ipr.neigh("replace", dst=i, lladdr=m,
                                                                         state=NUD_PERMANENT, ifindex=x)))
        for ip, mac in sorted(have - want):
            changes.append(Change(host.name, "delete", "neigh", f"{ip} is-at {mac} on {br}",
                                  lambda i=ip, m=mac, x=index: ipr.neigh("del", dst=i, lladdr=m, ifindex=x)))
    return changes
