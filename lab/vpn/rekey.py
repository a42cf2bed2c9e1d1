"""A rotated VPN secret handed to the tunnel's running ends (`lab secrets
rotate vpn-<name>`), with no daemon restarted and no link or route touched.

IKEv2: each end's swanctl.conf is rendered with the new pre-shared key and
loaded (`swanctl --load-all` over VICI). The key only authenticates a new
IKE SA, so the established SAs and their CHILD_SAs carry on; the next
rekey or a new SA authenticates with the new key on both ends.

WireGuard: each end's device takes the new keys over UAPI. A WireGuard
device has one static key and a session belongs to it, so the old session
ends with the old key: the site is re-keyed first, then the instances (the
serving one last). The first handshake that meets two re-keyed ends succeeds:
the serving gateway's keepalive (or the first packet either way) sends it,
so the tunnel is back within a keepalive interval (`vpn.<name>.tunnel_up`
holds; tests/vpn/test_vpn_live.py measures the ping loss). The site's peer
endpoint is the serving instance, so that handshake goes where the tenant's
traffic leaves.

An end whose daemon is not running is left alone: `lab up` starts it with
the new keys.
"""

from __future__ import annotations

import dataclasses
import subprocess

from lab.plan.vpn_model import VpnSpec
from lab.vpn import ends
from lab.vpn.render import End
from lab.vpn.state import load_specs, serving


def rekey_running(lab: str, secret: str) -> list[str]:
    """Re-key the running ends of the VPN(s) whose keys are `secret`; one line
    per end saying what happened."""
    done = []
    for vpn in load_specs(lab):
        if vpn.secret != secret:
            continue
        for end in _order(vpn):
            if ends.running(vpn, end) is None:
                done.append(f"{end.host}: not running (takes the new keys at `lab up`)")
                continue
            try:
                ends.reconfigure(vpn, end)
            except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
                done.append(f"{end.host}: re-key failed ({exc}); `lab up` converges it")
                continue
            done.append(f"{end.host}: re-keyed")
    return done


def _order(vpn: VpnSpec) -> list[End]:
    """The site, the instances that do not serve, then the serving one. A
    WireGuard site's peer endpoint is the serving instance (any address of the
    pair is as planned: lab.vpn.wireguard.drift); an IKEv2 site's config stays
    exactly the planned one (a second `up` compares it as text)."""
    now = serving(vpn)
    site, *instances = ends.all_ends(vpn)
    if vpn.protocol == "wireguard":
        first = vpn.instance(now).public_address
        site = dataclasses.replace(site, remote_addresses=(first, *(
            a for a in site.remote_addresses if a != first)))
    return [site, *sorted(instances, key=lambda e: e.host == now)]
