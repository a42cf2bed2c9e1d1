"""Changes outside the MUX that DSR needs: the VIP on each backend's
loopback (so the backend accepts the packet and answers from the VIP), ARP
hygiene for that address, and an XDP_PASS program on the ToR's veth facing
the MUX (veth delivers XDP_TX frames only to a peer that runs XDP)."""

from __future__ import annotations

import os
from pathlib import Path

from pyroute2.ethtool import Ethtool

from lab.apply.netns import inside
from lab.compute.endpoints import Endpoint, endpoint
from lab.lb import build, loader
from lab.plan.lb_model import BackendSpec, MuxSpec


def backend_endpoint(lab: str, backend: BackendSpec) -> Endpoint:
    """Where a backend holds the VIPs of its load balancer's rules: the
    endpoint decides whether that is the load balancer's job."""
    return endpoint(lab, backend, backend.namespace)


def has_vip(lab: str, backend: BackendSpec, vip: str) -> bool:
    """Whether the backend needs nothing from the load balancer for the VIP."""
    return backend_endpoint(lab, backend).has_lb_vip(vip)


def add_vip(lab: str, backend: BackendSpec, vip: str) -> bool:
    """False when the VIP is not the load balancer's to add (a VM's are compute's)."""
    return backend_endpoint(lab, backend).add_lb_vip(vip)


def remove_vip(lab: str, backend: BackendSpec, vip: str) -> None:
    backend_endpoint(lab, backend).remove_lb_vip(vip)


def pass_root(mux: MuxSpec) -> Path:
    return loader.pin_root(mux.lab) / mux.name


def set_tx_checksum(namespace: str, ifname: str, on: bool) -> None:
    """Checksum offload off on the wire into the MUX: the sender then completes
    TCP/UDP checksums in software, as a real NIC does on the wire. Left on, a
    veth hands over CHECKSUM_PARTIAL packets whose checksum field is not yet
    filled; XDP forwards the raw bytes and the backend drops them (bad checksum)."""
    with inside(namespace):
        eth = Ethtool()
        try:
            feats = eth.get_features(ifname)
            feats.features["tx-checksum-ip-generic"].enable = on
            eth.set_features(ifname, feats)
        finally:
            eth.close()


def attach_tor_pass(mux: MuxSpec) -> None:
    root = pass_root(mux)
    prog = root / "tor_pass"
    pinned = (loader.Pinned(prog, root / "tor_pass_maps") if prog.exists()
              else loader.load(build.simple_object("XDP_PASS"), root, "tor_pass"))
    fd = pinned.prog_fd()
    try:
        loader.attach(mux.tor_namespace, mux.tor_port, fd)
    finally:
        os.close(fd)
    set_tx_checksum(mux.tor_namespace, mux.tor_port, False)
