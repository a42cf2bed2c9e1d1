"""Advertisement follows health: a MUX announces a VIP only while it can
serve it, i.e. its XDP program is attached to its underlay NIC and at least
one load balancer with a rule on that VIP has a healthy backend in this
MUX's own view (its own probes). Otherwise it withdraws the VIP.

The announcement is the VIP as a /32 on the MUX's loopback: its bgpd
redistributes connected /32s of the VIP pool (templates/mux-frr.conf.j2),
so adding or removing the address is the whole announce/withdraw, with no
vtysh call on the path, and what a MUX announces can be read back from the
kernel. The VIP on lo never answers for the MUX: the XDP program sees VIP
packets before the stack, and the address is gone when the program is.

Who calls `sync`: every probe round (the lab's probe daemon, or the probe
loop a check runs), every controller operation (lab.lb.control
with_controller) and `lab up`. When MUXes disagree (each probes on its
own), each announces what it sees: a MUX that lost every backend of a VIP
withdraws it and the ToR sends its flows to the MUXes that still have one;
a backend down on one MUX only leaves that MUX's ring, so flows re-hashed
between MUXes may land on different backends until the views agree.
"""

from __future__ import annotations

import ipaddress

from lab.lb import loader
from lab.lb.state import MuxState, load_state, muxes_of

LO = "lo"


def can_serve(state: MuxState, attached: bool) -> list[str]:
    """The VIPs this MUX should announce, given whether its program is attached."""
    if not attached:
        return []
    healthy_lbs = {b.lb for b in state.backends if b.healthy}
    return sorted({r.vip for r in state.rules if r.lb in healthy_lbs})


def announced(namespace: str, pool: str) -> list[str]:
    """The pool addresses on the MUX's loopback: what its bgpd announces."""
    net = ipaddress.IPv4Network(pool)
    with loader.netlink(namespace) as ipr:
        lo = ipr.link_lookup(ifname=LO)[0]
        have = [a.get_attr("IFA_ADDRESS") for a in ipr.get_addr(index=lo, family=2)]
    return sorted(a for a in have if ipaddress.IPv4Address(a) in net)


def set_announced(namespace: str, pool: str, vips: list[str]) -> tuple[list[str], list[str]]:
    """Make the loopback hold exactly `vips` of the pool: (added, removed)."""
    have = set(announced(namespace, pool))
    added, removed = sorted(set(vips) - have), sorted(have - set(vips))
    with loader.netlink(namespace) as ipr:
        lo = ipr.link_lookup(ifname=LO)[0]
        for vip in added:
            _quiet(ipr.addr, "add", index=lo, address=vip, prefixlen=32)
        for vip in removed:
            _quiet(ipr.addr, "del", index=lo, address=vip, prefixlen=32)
    return added, removed


def _quiet(op, *args, **kwargs) -> None:
    """Another process may have made the same change a moment ago."""
    try:
        op(*args, **kwargs)
    except OSError as exc:  # pyroute2's NetlinkError is an OSError
        if getattr(exc, "code", None) not in (17, 99):  # EEXIST, EADDRNOTAVAIL
            raise


def sync(state: MuxState) -> tuple[list[str], list[str]]:
    """Announce what this MUX can serve, withdraw the rest (no-op without BGP)."""
    spec = state.spec
    if spec.bgp is None:
        return [], []
    try:
        attached = loader.attached_prog_id(spec.namespace, spec.ifname) != 0
    except (OSError, loader.LoadError):
        return [], []  # the namespace or NIC is gone (lab down under way)
    return set_announced(spec.namespace, spec.vip_pool, can_serve(state, attached))


def sync_lab(lab: str) -> dict[str, tuple[list[str], list[str]]]:
    changed = {}
    for mux in muxes_of(lab):
        try:
            state = load_state(lab, mux)
        except (OSError, ValueError):
            continue  # removed meanwhile
        added, removed = sync(state)
        if added or removed:
            changed[mux] = (added, removed)
    return changed
