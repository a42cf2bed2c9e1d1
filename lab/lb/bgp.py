"""BGP between the ToR and the MUXes in the embedded lab (part of the LB
lifecycle): FRR on the ToR, and FRR on every MUX as its speaker.

Why FRR on the MUX and not ExaBGP driven by the control plane: the ToR runs
BFD to every MUX, and a BFD session needs a BFD speaker at the other end;
ExaBGP has none. FRR's bfdd gives the MUX one, with the same timers, and its
bgpd announces exactly the VIPs lab.lb.advertise puts on the MUX's loopback,
so the control plane never talks BGP itself.

`up` starts the instances that do not run (each journaled as `frr` before
it starts) and pushes the rendered configs; `down` stops every instance the
lab's frr directory holds and removes it: no daemon, socket, pid file or
config is left.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from lab.apply.changes import Change
from lab.lb import advertise, frr
from lab.lb.state import load_state, muxes_of
from lab.plan.model import Plan

Progress = Callable[[str], None]
SESSION_WAIT_S = 20.0


def _noop() -> None:
    pass


def wanted(plan: Plan) -> list[tuple[frr.Instance, str]]:
    """(instance, config) of the ToR and every MUX speaker the plan has."""
    if plan.bgp is None:
        return []
    tor = frr.Instance(plan.lab, plan.bgp.name, plan.bgp.namespace)
    result = [(tor, frr.render_tor(plan.lab, plan.bgp, str(tor.log)))]
    for mux in plan.muxes:
        if mux.bgp is not None:
            inst = frr.Instance(plan.lab, mux.name, mux.namespace)
            result.append((inst, frr.render_mux(mux, str(inst.log))))
    return result


def _stale(inst: frr.Instance, config: str) -> str | None:
    """Why the instance must be (re)started or reconfigured, or None."""
    running = inst.pids()
    if len(running) < len(frr.DAEMONS):
        return f"start {', '.join(d for d in frr.DAEMONS if d not in running)}"
    if not inst.config.exists() or inst.config.read_text() != config:
        return "configure"
    return None


def diff(plan: Plan, journal: Any = None) -> list[Change]:
    """An FRR instance to (re)start wherever its running config is not the
    planned one; applying starts it afresh (vtysh -f only adds lines)."""
    changes = []
    for inst, config in wanted(plan):
        why = _stale(inst, config)
        if why is None:
            continue

        def apply(inst: frr.Instance = inst, config: str = config, why: str = why) -> None:
            if journal is not None:
                journal.record("frr", str(inst.dir), inst.namespace)
            if why == "configure" and inst.config.exists():
                inst.stop()
            inst.start(config)

        changes.append(Change(inst.host, "create", "frr", why, apply))
    return changes


def settle(plan: Plan, restarted: bool) -> None:
    """After `up`: the MUXes advertise what their health allows, and sessions
    of restarted instances are awaited (bounded)."""
    advertise.sync_lab(plan.lab)
    if restarted:
        wait_established(plan)


def established(plan: Plan) -> bool:
    """Every planned MUX session Established with BFD up, in the ToR's view."""
    if plan.bgp is None:
        return True
    seen = sessions(plan.lab, plan.bgp.name)
    return all(seen.get(n.address, {}).get("state") == "Established" and seen[n.address]["bfd"] == "up"
               for n in plan.bgp.neighbors)


def wait_established(plan: Plan, timeout: float = SESSION_WAIT_S) -> bool:
    """Bounded: a fresh instance flaps once while its config arrives line by
    line; the sessions check reports one that never comes up."""
    deadline = time.monotonic() + timeout
    while not established(plan):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def down(lab: str) -> list[str]:
    """Withdraw (the MUXes first, so the ToR forgets the VIPs), then stop all."""
    hosts = frr.instances(lab)
    muxes = set(muxes_of(lab))
    removed = []
    for host in sorted(hosts, key=lambda h: h not in muxes):
        removed += frr.Instance(lab, host, "").stop()
    if frr.frr_root(lab).exists():
        frr.frr_root(lab).rmdir()
    return removed


def sessions(lab: str, host: str) -> dict[str, dict[str, Any]]:
    """Neighbour address -> {state, bfd, up_s, prefixes received} as `host`'s bgpd reports it."""
    inst = frr.Instance(lab, host, "")
    peers = inst.show("show bgp ipv4 unicast summary json").get("peers", {})
    bfd = {p.get("peer"): p.get("status") for p in inst.show("show bfd peers json") or []}
    return {addr: {"state": p.get("state", "?"), "bfd": bfd.get(addr, "none"),
                   "up_s": p.get("peerUptimeMsec", 0) / 1000, "received": p.get("pfxRcd", 0),
                   "flaps": p.get("connectionsDropped", 0)} for addr, p in peers.items()}


def status(lab: str) -> dict[str, Any]:
    """Per MUX: its session to the ToR (the MUX's view, and the ToR's: how
    many of the VIPs it announces the ToR accepted) and the VIPs it announces."""
    hosts = frr.instances(lab)
    if not hosts:
        return {}
    muxes = muxes_of(lab)
    tor = next((h for h in hosts if h not in muxes), None)
    tor_view = sessions(lab, tor) if tor else {}
    result = {}
    for mux in muxes:
        spec = load_state(lab, mux).spec
        if spec.bgp is None:
            continue
        session = sessions(lab, mux).get(spec.bgp.peer, {"state": "down", "bfd": "none"})
        try:
            vips = advertise.announced(spec.namespace, spec.vip_pool)
        except OSError:
            vips = []
        seen = tor_view.get(spec.underlay_ip, {})
        result[mux] = {"session": session["state"], "bfd": session["bfd"], "advertised": vips,
                       "peer": spec.bgp.peer, "up_s": session.get("up_s", 0),
                       "flaps": session.get("flaps", 0),
                       "tor": {"session": seen.get("state", "down"), "bfd": seen.get("bfd", "none"),
                               "accepted": seen.get("received", 0)}}
    return result
