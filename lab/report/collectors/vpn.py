"""Live VPN state for `lab exporter`: per VPN gateway whether its tunnel is
up (seen from the site, as `lab status` shows it) and, per gateway instance,
whether it serves the tunnel now, whether its daemon answers, its own tunnel
and the bytes it carried (wireguard-go's UAPI: rx/tx and the last handshake;
charon's VICI: the CHILD_SA's bytes, which start again at each rekey, as
WireGuard's do when its peer is re-keyed: Prometheus' rate() takes resets)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from lab.plan.vpn_model import VpnSpec
from lab.report import metric_names as m
from lab.vpn import ends
from lab.vpn.state import load_specs, serving


class VpnCollector:
    def __init__(self, lab: str):
        self.lab = lab

    def collect(self) -> Iterable[Metric]:
        families = _Families()
        for vpn in load_specs(self.lab):
            families.add(vpn)
        return families.all()


class _Families:
    def __init__(self) -> None:
        def gauge(name: str, doc: str) -> GaugeMetricFamily:
            return GaugeMetricFamily(name, doc, labels=m.VPN_INSTANCE_LABELS)

        def counter(name: str, doc: str) -> CounterMetricFamily:
            return CounterMetricFamily(name, doc, labels=m.VPN_INSTANCE_LABELS)

        self.tunnel = GaugeMetricFamily(m.VPN_TUNNEL_UP, "Whether the VPN's site has its tunnel up (1 up).",
                                        labels=m.VPN_LABELS)
        self.serving = gauge(m.VPN_INSTANCE_SERVING, "1 on the gateway instance that serves the tunnel now.")
        self.up = gauge(m.VPN_INSTANCE_UP, "Whether a gateway instance's VPN daemon answers (1 up).")
        self.own = gauge(m.VPN_INSTANCE_TUNNEL_UP, "Whether a gateway instance has the tunnel up itself.")
        self.rx = counter(m.VPN_RX_BYTES, "Bytes a gateway instance received through its tunnel.")
        self.tx = counter(m.VPN_TX_BYTES, "Bytes a gateway instance sent through its tunnel.")
        self.handshake = gauge(m.VPN_LAST_HANDSHAKE, "Last WireGuard handshake of a gateway instance (Unix time).")

    def add(self, vpn: VpnSpec) -> None:
        lab = vpn.lab
        site_up = ends.tunnel(vpn, ends.site_end(vpn))["up"]
        self.tunnel.add_metric([lab, vpn.name, vpn.protocol], 1.0 if site_up else 0.0)
        now_serving = serving(vpn)
        for inst in vpn.instances:
            labels = [lab, vpn.name, inst.host, inst.role]
            end = ends.instance_end(vpn, inst.host)
            self.serving.add_metric(labels, 1.0 if inst.host == now_serving else 0.0)
            alive = ends.running(vpn, end) is not None and ends.healthy(vpn, end)
            self.up.add_metric(labels, 1.0 if alive else 0.0)
            state = ends.tunnel(vpn, end) if alive else {"up": False}
            self.own.add_metric(labels, 1.0 if state["up"] else 0.0)
            if "rx_bytes" in state:
                self.rx.add_metric(labels, state["rx_bytes"])
                self.tx.add_metric(labels, state["tx_bytes"])
            if state.get("handshake_at"):
                self.handshake.add_metric(labels, state["handshake_at"])

    def all(self) -> list[Metric]:
        return [v for v in vars(self).values() if isinstance(v, Metric)]


def vpn_collector(_results_dir: Path, lab: str) -> VpnCollector | None:
    return VpnCollector(lab) if load_specs(lab) else None
