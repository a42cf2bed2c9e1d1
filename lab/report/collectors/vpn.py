"""Live VPN state for `lab exporter`: per VPN gateway whether its tunnel is
up (seen from the site, as `lab status` shows it) and, per gateway instance,
whether it serves the tunnel now, whether its daemon answers, its own tunnel
and the bytes it carried (wireguard-go's UAPI: rx/tx and the last handshake;
charon's VICI: the CHILD_SA's bytes, which start again at each rekey, as
WireGuard's do when its peer is re-keyed: Prometheus' rate() takes resets).
Reading the daemons (`read_vpn`) is apart from building the metric families
(lab.report.live.vpn_families), which the dashboard tests feed directly."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from prometheus_client.core import Metric

from lab.plan.vpn_model import VpnSpec
from lab.report.live import VpnInstanceState, VpnState, vpn_families
from lab.vpn import ends
from lab.vpn.state import load_specs, serving


class VpnCollector:
    def __init__(self, lab: str):
        self.lab = lab

    def collect(self) -> Iterable[Metric]:
        return vpn_families(self.lab, [read_vpn(vpn) for vpn in load_specs(self.lab)])


def read_vpn(vpn: VpnSpec) -> VpnState:
    now_serving = serving(vpn)
    return VpnState(name=vpn.name, protocol=vpn.protocol,
                    site_up=bool(ends.tunnel(vpn, ends.site_end(vpn))["up"]),
                    instances=tuple(_read_instance(vpn, inst.host, inst.role, inst.host == now_serving)
                                    for inst in vpn.instances))


def _read_instance(vpn: VpnSpec, host: str, role: str, is_serving: bool) -> VpnInstanceState:
    end = ends.instance_end(vpn, host)
    alive = ends.running(vpn, end) is not None and ends.healthy(vpn, end)
    state = ends.tunnel(vpn, end) if alive else {"up": False}
    return VpnInstanceState(host=host, role=role, serving=is_serving, daemon_up=alive,
                            tunnel_up=bool(state["up"]), rx_bytes=state.get("rx_bytes"),
                            tx_bytes=state.get("tx_bytes"), handshake_at=state.get("handshake_at") or None)


def vpn_collector(_results_dir: Path, lab: str) -> VpnCollector | None:
    return VpnCollector(lab) if load_specs(lab) else None
