"""Links (veth, bridge, vxlan) of one host: diff against the kernel, apply."""

from __future__ import annotations

import errno
from dataclasses import dataclass
from typing import Any

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from lab.apply.changes import Change
from lab.plan.model import HostPlan, LinkSpec

IFF_UP = 0x1
CREATE_ORDER = {"bridge": 0, "dummy": 1, "vxlan": 2, "veth": 3}
PORT_FLAGS = {  # brport kwarg -> (LinkSpec field, IFLA attribute)
    "learning": ("learning", "IFLA_BRPORT_LEARNING"),
    "unicast_flood": ("flood", "IFLA_BRPORT_UNICAST_FLOOD"),
    "mcast_flood": ("flood", "IFLA_BRPORT_MCAST_FLOOD"),
    "bcast_flood": ("flood", "IFLA_BRPORT_BCAST_FLOOD"),
    "neigh_suppress": ("neigh_suppress", "IFLA_BRPORT_NEIGH_SUPPRESS"),
}


@dataclass
class ObservedLink:
    index: int
    kind: str | None
    mtu: int
    mac: str
    master: int | None
    alias: str | None
    up: bool
    vxlan: tuple[Any, ...] | None
    port_flags: dict[str, int]


def observe_links(ipr: IPRoute) -> dict[str, ObservedLink]:
    links = {}
    for msg in ipr.get_links():
        info = msg.get("IFLA_LINKINFO")
        kind = info.get("IFLA_INFO_KIND") if info else None
        vxlan = None
        if kind == "vxlan":
            d = info.get("IFLA_INFO_DATA")
            vxlan = (d.get("IFLA_VXLAN_ID"), d.get("IFLA_VXLAN_LOCAL"), d.get("IFLA_VXLAN_PORT"),
                     bool(d.get("IFLA_VXLAN_LEARNING")))
        slave = info.get("IFLA_INFO_SLAVE_DATA") if info else None
        flags = {attr: slave.get(attr) for _, attr in PORT_FLAGS.values()} if slave else {}
        links[msg.get("IFLA_IFNAME")] = ObservedLink(
            index=msg["index"], kind=kind, mtu=msg.get("IFLA_MTU"), mac=msg.get("IFLA_ADDRESS"),
            master=msg.get("IFLA_MASTER"), alias=msg.get("IFLA_IFALIAS"),
            up=bool(msg["flags"] & IFF_UP), vxlan=vxlan, port_flags=flags,
        )
    return links


def _wanted_vxlan(spec: LinkSpec) -> tuple[Any, ...] | None:
    v = spec.vxlan
    return (v.vni, v.local, v.port, v.learning) if v else None


def _create_kwargs(spec: LinkSpec, namespace_of: dict[str, str]) -> dict[str, Any]:
    args: dict[str, Any] = {"ifname": spec.name, "kind": spec.kind, "mtu": spec.mtu}
    if spec.mac:
        args["address"] = spec.mac
    if spec.kind == "bridge":
        args["br_stp_state"] = 0
    elif spec.kind == "vxlan" and spec.vxlan:
        v = spec.vxlan
        args.update(vxlan_id=v.vni, vxlan_local=v.local, vxlan_port=v.port,
                    vxlan_learning=int(v.learning))
    elif spec.kind == "veth" and spec.peer:
        args["peer"] = {"ifname": spec.peer.name, "net_ns_fd": namespace_of[spec.peer.host]}
    return args


def diff_link_creation(host: HostPlan, ipr: IPRoute | None, namespace_of: dict[str, str]) -> list[Change]:
    """Links this host creates (veth pairs from their creating end)."""
    seen = observe_links(ipr) if ipr else {}
    changes = []
    specs = sorted(host.links, key=lambda s: CREATE_ORDER[s.kind])
    for spec in specs:
        if spec.kind == "veth" and spec.peer is None:
            continue  # made by the peer's host
        have = seen.get(spec.name)
        wrong = have is not None and (have.kind != spec.kind or have.vxlan != _wanted_vxlan(spec))
        if have is not None and not wrong:
            continue
        kwargs = _create_kwargs(spec, namespace_of)

        def create(ipr_: IPRoute | None = ipr, kw: dict = kwargs, old: ObservedLink | None = have) -> None:
            if old is not None:
                ipr_.link("del", index=old.index)
            ipr_.link("add", **kw)

        target = spec.name + (f" <-> {spec.peer.host}/{spec.peer.name}" if spec.peer else "")
        changes.append(Change(host.name, "update" if wrong else "create", "link", target, create))
    return changes


def diff_link_config(host: HostPlan, ipr: IPRoute | None, mark: str,
                     keep: frozenset[str] = frozenset(), prune: bool = True) -> list[Change]:
    """MTU, MAC, master, port flags, mark and up state; unplanned links removed
    when `prune` (a lab namespace is all ours; a real server is not).
    `keep` names links managed by another applier (e.g. VM taps)."""
    seen = observe_links(ipr) if ipr else {}
    by_index = {link.index: name for name, link in seen.items()}
    index_of = {name: link.index for name, link in seen.items()}
    changes = []
    for spec in host.links:
        have = seen.get(spec.name)
        if have is None:  # dry run: the link as the creation phase will leave it
            attrs = _link_attr_diff(spec, _as_created(spec), by_index, mark)
            changes.append(Change(host.name, "update", "link", f"{spec.name} {sorted(attrs)}", lambda: None))
            continue
        attrs = _link_attr_diff(spec, have, by_index, mark)
        if attrs:
            changes.append(_set_link(host.name, ipr, spec, have, attrs, index_of))
        port = _port_flag_diff(spec, have) if "master" not in attrs else {}
        if port:
            changes.append(Change(host.name, "update", "brport", f"{spec.name} {port}",
                                  lambda i=have.index, p=port: ipr.brport("set", index=i, **p)))
    planned = {s.name for s in host.links} | set(keep) | {"lo"}
    for name, have in seen.items():
        # a TUN device belongs to the daemon that opened it (a VPN end's) and
        # goes with it: never planned, never pruned
        if prune and name not in planned and have.kind != "tun":
            changes.append(Change(host.name, "delete", "link", name,
                                  lambda i=have.index: delete_link(ipr, i)))
    return changes


VETH_DEFAULT_MTU = 1500


def _as_created(spec: LinkSpec) -> ObservedLink:
    """What diff_link_creation's `link add` leaves: the creating end has the
    planned MTU and MAC; the peer end of a veth (made by the other host) has
    the kernel's defaults; neither has the mark, a master or is up yet."""
    made_here = not (spec.kind == "veth" and spec.peer is None)
    return ObservedLink(index=-1, kind=spec.kind, mtu=spec.mtu if made_here else VETH_DEFAULT_MTU,
                        mac=(spec.mac or "") if made_here else "", master=None, alias=None, up=False,
                        vxlan=None, port_flags={})


def delete_link(ipr: IPRoute, index: int) -> None:
    """Delete a link; already gone is fine (the peer of a deleted veth goes with it)."""
    try:
        ipr.link("del", index=index)
    except NetlinkError as exc:
        if exc.code != errno.ENODEV:
            raise


def _link_attr_diff(spec: LinkSpec, have: ObservedLink, by_index: dict[int, str], mark: str) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    if have.mtu != spec.mtu:
        attrs["mtu"] = spec.mtu
    if spec.mac and have.mac != spec.mac:
        attrs["address"] = spec.mac
    if have.alias != mark:
        attrs["ifalias"] = mark
    if by_index.get(have.master) != spec.master:
        attrs["master"] = spec.master  # resolved to an index when applied
    if not have.up:
        attrs["state"] = "up"
    return attrs


def _set_link(host: str, ipr: IPRoute, spec: LinkSpec, have: ObservedLink, attrs: dict[str, Any],
              index_of: dict[str, int]) -> Change:
    def apply() -> None:
        kw = dict(attrs)
        if "master" in kw:
            kw["master"] = index_of[kw["master"]] if kw["master"] else 0
        up = kw.pop("state", None)
        if kw:
            ipr.link("set", index=have.index, **kw)
        if "master" in attrs and spec.master:
            ipr.brport("set", index=have.index, **wanted_port_flags(spec))
        if up:
            ipr.link("set", index=have.index, state="up")

    return Change(host, "update", "link", f"{spec.name} {sorted(attrs)}", apply)


def wanted_port_flags(spec: LinkSpec) -> dict[str, int]:
    return {kwarg: int(getattr(spec, field)) for kwarg, (field, _) in PORT_FLAGS.items()}


def _port_flag_diff(spec: LinkSpec, have: ObservedLink) -> dict[str, int]:
    if not spec.master:
        return {}
    return {kwarg: want for kwarg, want in wanted_port_flags(spec).items()
            if have.port_flags.get(PORT_FLAGS[kwarg][1]) != want}
