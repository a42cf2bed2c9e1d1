"""The pair monitor: the network controller's gateway manager for the lab's
VPN gateway pairs. One process per lab (`python -m lab.vpn.monitor LAB`).

Every POLL_S it asks each pair's serving instance's daemon on its control
socket (WireGuard's UAPI, charon's VICI) whether it still answers. When the
active fails and the standby answers, the standby takes over: it becomes the
serving instance (lab.vpn.state, which `lab up` honours), the tenant
gateway's route to the site moves to it, and it brings the tunnel up itself
(WireGuard: its device is configured afresh with keepalives on, so its
handshake goes out at once and the site roams to it, the pair sharing one
key; a session left from an earlier turn would not do: the site now speaks
the dead gateway's keys, and only a timeout 15 s later would make a new
handshake. IKEv2: it initiates, and the site replaces the dead gateway's SA,
the pair sharing one identity). When the
active answers again (and, IKEv2, has its tunnel up: it initiates when
started) the pair fails back the same way. A standby that fails only loses
its standing: nothing moves.
"""

from __future__ import annotations

import sys
import time

from lab.plan.vpn_model import VpnInstanceSpec, VpnSpec
from lab.vpn import ends, ikev2, routes
from lab.vpn.state import load_specs, serving, set_serving

POLL_S = 0.2


def step(vpn: VpnSpec) -> str | None:
    """One look at a pair; the host it moved the tunnel to, if any."""
    active, standby = vpn.instances
    current = serving(vpn)
    active_ok = ends.healthy(vpn, ends.instance_end(vpn, active.host))
    if current == active.host:
        if not active_ok and ends.healthy(vpn, ends.instance_end(vpn, standby.host)):
            take_over(vpn, standby, f"{active.host} stopped answering")
            return standby.host
        return None
    if active_ok and (vpn.protocol == "wireguard" or ends.tunnel(vpn, ends.instance_end(vpn, active.host))["up"]):
        take_over(vpn, active, f"{active.host} answers again")
        return active.host
    _keep_up(vpn, standby)
    return None


_last_kick: dict[str, float] = {}
KICK_EVERY_S = 5.0


def _keep_up(vpn: VpnSpec, standby: VpnInstanceSpec) -> None:
    """An IKEv2 standby that serves does not restart its tunnel by itself
    (lab.vpn.render): while it serves, the monitor does, at most every KICK_EVERY_S."""
    if vpn.protocol != "ikev2" or time.monotonic() - _last_kick.get(vpn.name, 0.0) < KICK_EVERY_S:
        return
    end = ends.instance_end(vpn, standby.host)
    if ends.healthy(vpn, end) and not ends.tunnel(vpn, end)["up"]:
        _last_kick[vpn.name] = time.monotonic()
        ikev2.initiate(ends.directory(vpn, end), vpn.name)


def take_over(vpn: VpnSpec, to: VpnInstanceSpec, reason: str) -> None:
    set_serving(vpn, to.host, reason)
    routes.converge(vpn.tenant_gateway_namespace, [routes.tenant_route(vpn, to.host)], vpn.route_protocol)
    for inst in vpn.instances:  # into the tunnel on the serving one, via it on the other
        end = ends.instance_end(vpn, inst.host)
        try:
            routes.converge(end.namespace, routes.tunnel_routes(vpn, end, to.host), vpn.route_protocol)
            if vpn.protocol == "wireguard":  # the planned device afresh: no old session survives
                ends.reconfigure(vpn, end)
        except (OSError, RuntimeError):
            continue  # the failed one: nothing to tell it
    if vpn.protocol == "ikev2" and to.role == "standby":
        ikev2.initiate(ends.directory(vpn, ends.instance_end(vpn, to.host)), vpn.name)


def _stamp() -> str:
    """ISO 8601 with the offset: `lab logs collect` places each line in its window."""
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def run(lab: str, rounds: int | None = None) -> None:
    done = 0
    while rounds is None or done < rounds:
        for vpn in load_specs(lab):
            if not vpn.pair:
                continue
            try:
                moved = step(vpn)
            except Exception as exc:  # noqa: BLE001 - one pair's trouble must not stop the others
                print(f"{_stamp()} {vpn.name}: {type(exc).__name__}: {exc}", flush=True)
                continue
            if moved:
                print(f"{_stamp()} {vpn.name}: now served by {moved}", flush=True)
        done += 1
        time.sleep(POLL_S)


if __name__ == "__main__":
    run(sys.argv[1])
