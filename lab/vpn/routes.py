"""The VPN's routes, with their own kernel route protocol (VpnSpec.route_protocol)
so the fabric's applier, which owns the static ones, never prunes them:

- the tenant gateway: the site's subnet via the serving instance's tenant
  address (the pair monitor moves it on a failover);
- the serving gateway instance: the site's subnet into its TUN device; an
  instance that does not serve: the site's subnet via the serving one (a
  pair shares one WireGuard key: anything a standby sent into its own tunnel
  would make it handshake and take the site's session from the active);
- a site: the tenant's subnets into its TUN device, from its LAN address
  (what the site sends into the tunnel comes from its subnet).

For IKEv2 too: charon's own routes (install_routes) want a local address in
every local traffic selector, which a gateway with several tenant subnets
does not have; kernel-libipsec takes whatever reaches its TUN device and
matches it against its policies.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

from pyroute2 import IPRoute

from lab.apply.netns import inside
from lab.plan.vpn_model import VpnSpec
from lab.vpn.render import End

MAIN_TABLE = 254


@dataclass(frozen=True)
class Route:
    dst: str
    via: str = ""
    dev: str = ""
    src: str = ""

    def __str__(self) -> str:
        return self.dst + (f" via {self.via}" if self.via else "") + (f" dev {self.dev}" if self.dev else "") + (
            f" src {self.src}" if self.src else "")


def tenant_route(vpn: VpnSpec, serving: str) -> Route:
    return Route(vpn.site_subnet, via=vpn.instance(serving).tenant_address)


def tunnel_routes(vpn: VpnSpec, end: End, serving: str) -> list[Route]:
    if not end.is_site and not end.serving:
        return [Route(vpn.site_subnet, via=vpn.instance(serving).tenant_address)]
    return [Route(dst, dev=end.ifname, src=end.lan_address) for dst in end.remote_subnets]


def _have(ipr: IPRoute, proto: int) -> dict[Route, dict]:
    names = {m["index"]: m.get("IFLA_IFNAME") for m in ipr.get_links()}
    found = {}
    for msg in ipr.get_routes(family=socket.AF_INET, table=MAIN_TABLE):
        if msg["proto"] != proto:
            continue
        route = Route(f"{msg.get('RTA_DST')}/{msg['dst_len']}", via=msg.get("RTA_GATEWAY") or "",
                      dev=names.get(msg.get("RTA_OIF"), "") if not msg.get("RTA_GATEWAY") else "",
                      src=msg.get("RTA_PREFSRC") or "")
        found[route] = msg
    return found


def missing_and_extra(namespace: str, wanted: list[Route], proto: int) -> tuple[list[Route], list[Route]]:
    with inside(namespace):
        ipr = IPRoute()
    with ipr:
        have = _have(ipr, proto)
    return [r for r in wanted if r not in have], [r for r in have if r not in wanted]


def converge(namespace: str, wanted: list[Route], proto: int) -> list[str]:
    """Make the namespace's routes of protocol `proto` exactly `wanted`."""
    with inside(namespace):
        ipr = IPRoute()
    done = []
    with ipr:
        have = _have(ipr, proto)
        for route in [r for r in wanted if r not in have]:  # replace first: a moved route never lapses
            args: dict = {"dst": route.dst, "proto": proto, "table": MAIN_TABLE}
            if route.via:
                args["gateway"] = route.via
            if route.dev:
                index = ipr.link_lookup(ifname=route.dev)
                if not index:
                    raise RuntimeError(f"no {route.dev} in {namespace} for the route to {route.dst}: "
                                       "the end's VPN daemon does not run")
                args["oif"] = index[0]
            if route.src:
                args["prefsrc"] = route.src
            ipr.route("replace", **args)
            done.append(f"+{route}")
        kept = {r.dst for r in wanted}
        for route in [r for r in have if r not in wanted and r.dst not in kept]:
            ipr.route("del", dst=route.dst, proto=proto, table=MAIN_TABLE)
            done.append(f"-{route}")
    return done


def link_up(namespace: str, ifname: str) -> None:
    """wireguard-go leaves its TUN device down; the tunnel's routes need it up."""
    with inside(namespace):
        ipr = IPRoute()
    with ipr:
        index = ipr.link_lookup(ifname=ifname)
        if index:
            ipr.link("set", index=index[0], state="up")
