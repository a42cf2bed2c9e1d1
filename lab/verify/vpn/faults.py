"""VPN faults for `lab fault inject` (--server names the VPN gateway, or
--tenant the tenant whose VPN; default: the first):

- vpn-key-mismatch: the site's key no longer matches (WireGuard: a new
  private key for the site; IKEv2: another pre-shared key at the site, and the
  tunnel re-authenticates): the tunnel cannot come up;
- vpn-down: every gateway instance's VPN daemon killed (SIGKILL): no tunnel,
  and a pair has nothing to fail over to.

`lab fault clear` runs `up` (a missing daemon is started, a WireGuard key
that differs from the plan is restored) and `clear` below, which reloads each
IKEv2 end's config (a loaded key `up` cannot see) and brings its tunnel up.
"""

from __future__ import annotations

import secrets as token

from lab.ops.secrets import wireguard_keypair
from lab.plan.model import Plan
from lab.plan.vpn_model import VpnSpec
from lab.vpn import daemon, ends, ikev2, uapi, wireguard
from lab.vpn.state import serving


def _vpn(plan: Plan, server: str | None, tenant: str | None) -> VpnSpec:
    if not plan.vpns:
        raise TypeError("this lab has no VPN gateway")
    for vpn in plan.vpns:
        hosts = {vpn.name, vpn.site.host, *(i.host for i in vpn.instances)}
        if server in hosts or (server is None and tenant == vpn.tenant):
            return vpn
    if server is not None or tenant is not None:
        raise TypeError(f"no VPN gateway {server or 'of tenant ' + str(tenant)}; VPN gateways: "
                        f"{', '.join(v.name for v in plan.vpns)}")
    return plan.vpns[0]


def key_mismatch(plan: Plan, server: str | None = None, tenant: str | None = None, **_: str) -> str:
    """Give the site a key its gateway does not know: the tunnel cannot authenticate."""
    vpn = _vpn(plan, server, tenant)
    site = ends.site_end(vpn)
    directory = ends.directory(vpn, site)
    if vpn.protocol == "wireguard":
        dev = uapi.parse_conf(ends.wanted_conf(vpn, site))
        dev.private_key = _new_wireguard_key()
        pid = wireguard.running(directory)
        if pid is None:
            raise TypeError(f"wireguard-go of {site.host} is not running")
        uapi.set_device(wireguard.socket_path(pid, site.ifname), dev)  # replace_peers: no session survives
        return f"{site.host} has a new WireGuard private key; {vpn.name}'s gateway expects the planned one"
    ikev2.load_psk(directory, site, token.token_urlsafe(32))
    ikev2.terminate(directory, vpn.name)
    gateway = ends.instance_end(vpn, serving(vpn))
    try:
        ikev2.initiate(ends.directory(vpn, gateway), vpn.name, timeout_ms=5000)
    except ikev2.IkeError:
        pass  # the point: authentication fails
    return f"{site.host} holds another pre-shared key; the IKE SA re-authenticated and failed"


def _new_wireguard_key() -> str:
    return wireguard_keypair()[0]


def vpn_down(plan: Plan, server: str | None = None, tenant: str | None = None, **_: str) -> str:
    """Kill the VPN daemon of every gateway instance: the tunnel is gone."""
    vpn = _vpn(plan, server, tenant)
    killed = []
    for inst in vpn.instances:
        pid = ends.running(vpn, ends.instance_end(vpn, inst.host))
        if pid:
            daemon.kill(pid)
            killed.append(f"{inst.host} (pid {pid})")
    if not killed:
        raise TypeError(f"no VPN daemon of {vpn.name} runs")
    return f"killed the VPN daemons of {', '.join(killed)}"


def clear(plan: Plan) -> list[str]:
    """IKEv2 ends reload their planned config; a tunnel that is down is brought up."""
    repaired = []
    for vpn in plan.vpns:
        if vpn.protocol != "ikev2":
            continue
        for end in ends.all_ends(vpn):
            if ends.running(vpn, end):
                ends.reconfigure(vpn, end)
        gateway = ends.instance_end(vpn, serving(vpn))
        if ends.running(vpn, gateway) and not ends.tunnel(vpn, ends.site_end(vpn))["up"]:
            ikev2.initiate(ends.directory(vpn, gateway), vpn.name)
            repaired.append(f"{vpn.name}: tunnel initiated from {gateway.host}")
    return repaired


FAULTS = {"vpn-key-mismatch": key_mismatch, "vpn-down": vpn_down}
