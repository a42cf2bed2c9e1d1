"""Live collectors: the hook the LB and fabric code plug their counters into.

A live collector is anything with `collect() -> Iterable[Metric]` (the
prometheus-client collector protocol). The LB control plane reads its BPF maps
into LbBackendCounters and returns `lb_families(...)`; the fabric reads
interface statistics into FabricInterfaceCounters and returns
`fabric_families(...)`; the VPN reads its daemons into VpnState and returns
`vpn_families(...)`. Using these builders keeps names and labels identical
to what the dashboards query.

Registration: a feature's `collector` in lab.features, a factory(lab_dir,
lab) that returns a collector (or None when the lab has nothing to report,
e.g. no LB). `lab exporter` builds every factory at start; a collector that
raises during a scrape is reported as stacklab_collector_up 0 instead of
breaking the whole scrape.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from lab.report import metric_names as m

log = logging.getLogger(__name__)


class LiveCollector(Protocol):
    def collect(self) -> Iterable[Metric]: ...


LiveCollectorFactory = Callable[[Path, str], LiveCollector | None]


def registered_factories() -> dict[str, LiveCollectorFactory]:
    from lab.features import collector_factories

    return collector_factories()


@dataclass(frozen=True)
class LbBackendCounters:
    """Counters of one frontend (VIP:port/protocol) towards one backend."""

    lb: str
    vip: str
    port: int
    protocol: str
    backend: str
    packets: int
    bytes: int
    syns: int = 0
    healthy: bool | None = None


@dataclass(frozen=True)
class FabricInterfaceCounters:
    server: str
    interface: str
    rx_packets: int
    tx_packets: int
    rx_bytes: int
    tx_bytes: int
    rx_dropped: int = 0
    tx_dropped: int = 0
    up: bool = True


def lb_families(lab: str, counters: Iterable[LbBackendCounters],
                drops: Mapping[tuple[str, str], int] | None = None) -> list[Metric]:
    """Metric families for the LB; `drops` maps (lb, reason) -> dropped packets
    (e.g. reason "no_rule" for a VIP/port without a rule)."""
    packets = CounterMetricFamily(m.LB_PACKETS, "Packets forwarded by the LB per frontend and backend.",
                                  labels=m.LB_LABELS)
    octets = CounterMetricFamily(m.LB_BYTES, "Bytes forwarded by the LB per frontend and backend.",
                                 labels=m.LB_LABELS)
    syns = CounterMetricFamily(m.LB_SYNS, "TCP SYNs (new connections) per frontend and backend.",
                               labels=m.LB_LABELS)
    healthy = GaugeMetricFamily(m.LB_BACKEND_HEALTHY, "Health probe status of a backend (1 up).",
                                labels=("lab", "lb", "backend"))
    seen_health: set[tuple[str, str]] = set()
    for c in counters:
        labels = [lab, c.lb, c.vip, str(c.port), c.protocol, c.backend]
        packets.add_metric(labels, c.packets)
        octets.add_metric(labels, c.bytes)
        syns.add_metric(labels, c.syns)
        if c.healthy is not None and (c.lb, c.backend) not in seen_health:
            seen_health.add((c.lb, c.backend))
            healthy.add_metric([lab, c.lb, c.backend], 1.0 if c.healthy else 0.0)
    dropped = CounterMetricFamily(m.LB_DROPPED, "Packets the LB dropped, by reason.",
                                  labels=("lab", "lb", "reason"))
    for (lb, reason), value in (drops or {}).items():
        dropped.add_metric([lab, lb, reason], value)
    return [packets, octets, syns, healthy, dropped]


@dataclass(frozen=True)
class MuxBgpState:
    """One MUX's BGP speaker: its session to the ToR and what it announces."""

    mux: str
    peer: str
    established: bool
    bfd_up: bool
    advertised: tuple[str, ...]
    accepted: int  # the MUX's routes the ToR accepted


_BGP_GAUGES: dict[str, tuple[str, Callable[[MuxBgpState], float]]] = {
    m.LB_BGP_SESSION_UP: ("BGP session of a MUX to the ToR Established (1).", lambda s: float(s.established)),
    m.LB_BGP_BFD_UP: ("BFD session of a MUX to the ToR up (1).", lambda s: float(s.bfd_up)),
    m.LB_BGP_ADVERTISED: ("VIPs a MUX announces to the ToR.", lambda s: float(len(s.advertised))),
    m.LB_BGP_ACCEPTED: ("Routes from a MUX the ToR accepted.", lambda s: float(s.accepted)),
}


def bgp_families(lab: str, muxes: Iterable[MuxBgpState]) -> list[Metric]:
    """Per MUX: session and BFD state, announced and accepted route counts,
    and one series per announced VIP."""
    gauges = {name: GaugeMetricFamily(name, doc, labels=m.LB_BGP_LABELS) for name, (doc, _) in _BGP_GAUGES.items()}
    route = GaugeMetricFamily(m.LB_BGP_ROUTE, "A VIP a MUX announces (1 while announced).",
                              labels=(*m.LB_BGP_LABELS, "vip"))
    for s in muxes:
        labels = [lab, s.mux, s.peer]
        for name, (_, value) in _BGP_GAUGES.items():
            gauges[name].add_metric(labels, value(s))
        for vip in s.advertised:
            route.add_metric([*labels, vip], 1.0)
    return [*gauges.values(), route]


def fabric_families(lab: str, counters: Iterable[FabricInterfaceCounters],
                    fdb_entries: Mapping[tuple[str, int], int] | None = None) -> list[Metric]:
    """Metric families for the fabric; `fdb_entries` maps (server, vni) -> static FDB entries."""
    def counter(name: str, doc: str) -> CounterMetricFamily:
        return CounterMetricFamily(name, doc, labels=m.FABRIC_LABELS)
    rx_p = counter(m.FABRIC_RX_PACKETS, "Packets received on a fabric interface.")
    tx_p = counter(m.FABRIC_TX_PACKETS, "Packets transmitted on a fabric interface.")
    rx_b = counter(m.FABRIC_RX_BYTES, "Bytes received on a fabric interface.")
    tx_b = counter(m.FABRIC_TX_BYTES, "Bytes transmitted on a fabric interface.")
    dropped = CounterMetricFamily(m.FABRIC_DROPPED, "Packets dropped on a fabric interface.",
                                  labels=(*m.FABRIC_LABELS, "direction"))
    up = GaugeMetricFamily(m.FABRIC_LINK_UP, "Operational state of a fabric interface (1 up).",
                           labels=m.FABRIC_LABELS)
    for c in counters:
        labels = [lab, c.server, c.interface]
        rx_p.add_metric(labels, c.rx_packets)
        tx_p.add_metric(labels, c.tx_packets)
        rx_b.add_metric(labels, c.rx_bytes)
        tx_b.add_metric(labels, c.tx_bytes)
        dropped.add_metric([*labels, "receive"], c.rx_dropped)
        dropped.add_metric([*labels, "transmit"], c.tx_dropped)
        up.add_metric(labels, 1.0 if c.up else 0.0)
    fdb = GaugeMetricFamily(m.FABRIC_FDB_ENTRIES, "Static VXLAN FDB entries per server and VNI.",
                            labels=("lab", "server", "vni"))
    for (server, vni), value in (fdb_entries or {}).items():
        fdb.add_metric([lab, server, str(vni)], value)
    return [rx_p, tx_p, rx_b, tx_b, dropped, up, fdb]


@dataclass(frozen=True)
class VpnInstanceState:
    """One gateway instance of a VPN as its daemon answers it. Counters and the
    handshake are None when the daemon did not tell them (down, or IKEv2 has
    no handshake time)."""

    host: str
    role: str  # active | standby
    serving: bool
    daemon_up: bool
    tunnel_up: bool
    rx_bytes: int | None = None
    tx_bytes: int | None = None
    handshake_at: float | None = None  # Unix time, WireGuard only


@dataclass(frozen=True)
class VpnState:
    """One VPN gateway: its tunnel as the site sees it, and its instances."""

    name: str
    protocol: str
    site_up: bool
    instances: tuple[VpnInstanceState, ...]


_VPN_INSTANCE_GAUGES: dict[str, tuple[str, Callable[[VpnInstanceState], float]]] = {
    m.VPN_INSTANCE_SERVING: ("1 on the gateway instance that serves the tunnel now.", lambda i: float(i.serving)),
    m.VPN_INSTANCE_UP: ("Whether a gateway instance's VPN daemon answers (1 up).", lambda i: float(i.daemon_up)),
    m.VPN_INSTANCE_TUNNEL_UP: ("Whether a gateway instance has the tunnel up itself.",
                               lambda i: float(i.tunnel_up)),
}


def vpn_families(lab: str, vpns: Iterable[VpnState]) -> list[Metric]:
    """Per VPN: the site's tunnel; per gateway instance: serving, daemon, own
    tunnel, bytes through it (counters that restart at a re-key) and WireGuard's
    last handshake."""
    Family = GaugeMetricFamily | CounterMetricFamily

    def per_instance(kind: type[Family], name: str, doc: str) -> Family:
        return kind(name, doc, labels=m.VPN_INSTANCE_LABELS)

    tunnel = GaugeMetricFamily(m.VPN_TUNNEL_UP, "Whether the VPN's site has its tunnel up (1 up).",
                               labels=m.VPN_LABELS)
    gauges = {name: per_instance(GaugeMetricFamily, name, doc) for name, (doc, _) in _VPN_INSTANCE_GAUGES.items()}
    rx = per_instance(CounterMetricFamily, m.VPN_RX_BYTES, "Bytes a gateway instance received through its tunnel.")
    tx = per_instance(CounterMetricFamily, m.VPN_TX_BYTES, "Bytes a gateway instance sent through its tunnel.")
    handshake = per_instance(GaugeMetricFamily, m.VPN_LAST_HANDSHAKE,
                             "Last WireGuard handshake of a gateway instance (Unix time).")
    for vpn in vpns:
        tunnel.add_metric([lab, vpn.name, vpn.protocol], float(vpn.site_up))
        for inst in vpn.instances:
            labels = [lab, vpn.name, inst.host, inst.role]
            for name, (_, value) in _VPN_INSTANCE_GAUGES.items():
                gauges[name].add_metric(labels, value(inst))
            if inst.rx_bytes is not None and inst.tx_bytes is not None:
                rx.add_metric(labels, inst.rx_bytes)
                tx.add_metric(labels, inst.tx_bytes)
            if inst.handshake_at:
                handshake.add_metric(labels, inst.handshake_at)
    return [tunnel, *gauges.values(), rx, tx, handshake]


class LiveCollectorSet:
    """All live collectors of one exporter. A failing read yields
    stacklab_collector_up{collector=...} 0 for that one, not a failed scrape."""

    def __init__(self, collectors: Mapping[str, LiveCollector] | None = None):
        self.collectors: dict[str, LiveCollector] = dict(collectors or {})

    def add(self, name: str, collector: LiveCollector) -> None:
        self.collectors[name] = collector

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily(m.COLLECTOR_UP, "Whether a live collector's last read worked.",
                               labels=("collector",))
        merged: dict[str, Metric] = {}
        for name, collector in self.collectors.items():
            try:
                families = list(collector.collect())
            except Exception:  # one broken source must not hide the rest
                log.exception("live collector %s failed", name)
                up.add_metric([name], 0.0)
                continue
            up.add_metric([name], 1.0)
            for family in families:
                _merge(merged, family)
        return [*merged.values(), up]


def _merge(merged: dict[str, Metric], family: Metric) -> None:
    """Two collectors may export the same family (two LBs): one family, all samples."""
    if family.name in merged:
        merged[family.name].samples.extend(family.samples)
    else:
        merged[family.name] = family
