"""Changes outside the MUX that DSR needs: the VIP on each backend's
loopback (so the backend accepts the packet and answers from the VIP), ARP
hygiene for that address, and an XDP_PASS program on the ToR's veth facing
the MUX (veth delivers XDP_TX frames only to a peer that runs XDP)."""

from __future__ import annotations

import os
from pathlib import Path

from pyroute2.ethtool import Ethtool

from lab.apply.netns import inside
from lab.compute.endpoints import NetnsEndpoint
from lab.lb import build, loader
from lab.plan.lb_model import BackendSpec, MuxSpec


def has_vip(backend: BackendSpec, vip: str) -> bool:
    """Whether a namespace backend holds the VIP on lo (False when its namespace is gone)."""
    try:
        with loader.netlink(backend.namespace or "") as ipr:
            lo = ipr.link_lookup(ifname="lo")[0]
            return vip in {a.get_attr("IFA_ADDRESS") for a in ipr.get_addr(index=lo)}
    except OSError:
        return False


def add_vip(backend: BackendSpec, vip: str) -> bool:
    """Returns False for a VM backend: compute adds its VIPs (lab.compute.vms.lb_vips)."""
    if backend.namespace is None:
        return False
    NetnsEndpoint("", backend.name, backend.namespace).add_vips([vip])
    return True


def remove_vip(backend: BackendSpec, vip: str) -> None:
    if backend.namespace is None:
        return
    try:
        with loader.netlink(backend.namespace) as ipr:
            lo = ipr.link_lookup(ifname="lo")[0]
            have = {a.get_attr("IFA_ADDRESS") for a in ipr.get_addr(index=lo)}
            if vip in have:
                ipr.addr("del", index=lo, address=vip, prefixlen=32)
    except OSError:
        return  # the namespace is already gone


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
