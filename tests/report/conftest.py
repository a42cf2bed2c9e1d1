"""Synthetic but realistic lab history and live counters for the report tests."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import numpy as np
import pytest

from lab.report.history import History, RunRecord
from lab.report.live import (
    FabricInterfaceCounters,
    LbBackendCounters,
    MuxBgpState,
    VpnInstanceState,
    VpnState,
    bgp_families,
    fabric_families,
    lb_families,
    vpn_families,
)
from lab.report.regress import regress_against_baseline
from lab.verify.result import CheckResult

LAB = "demo"
BACKENDS = ("red-web1", "red-web2")
DISKS = {"red-web1/data1": 500, "red-web2/data1": 500, "red-db1/fast": None}


def _storage(rng: np.random.Generator, night: int) -> list[CheckResult]:
    out = []
    for disk, cap in DISKS.items():
        mean = 505 if cap else 5400 - 40 * night
        iops = [round(float(v), 1) for v in rng.normal(mean, mean * 0.015, 5)]
        metrics = {"iops": iops, **({"iops_target": [float(cap)]} if cap else {})}
        target = f"{cap} IOPS ±5%" if cap else "uncapped (control disk)"
        name = f"storage.{disk}.randread" + ("" if cap else ".control")
        fio = f"/lab/demo/fio/{disk.replace('/', '-')}.json"
        out.append(CheckResult(name, "storage", target, f"{np.median(iops):.0f} IOPS", "pass", fio, metrics))
    return out


def _lb(rng: np.random.Generator, night: int) -> list[CheckResult]:
    flows = rng.multinomial(1000, [0.5, 0.5])
    dist = CheckResult("lb.mux1.dsr_distribution", "lb", "chi-square p >= 0.001",
                       f"{flows[0]}/{flows[1]} flows", "pass", "/lab/demo/pcap/lb-dist.pcap",
                       {f"backend_flows:{b}": [float(n)] for b, n in zip(BACKENDS, flows, strict=True)})
    failover = CheckResult("lb.mux1.failover", "lb", "<= 15 s", "6.1 s", "pass", "",
                           {"failover_s": [float(v) for v in rng.normal(6 + night * 0.1, 0.3, 3)]})
    return [dist, failover]


def _fabric(last: bool) -> list[CheckResult]:
    return [
        CheckResult("fabric.red.mtu", "fabric", "1500 DF + VXLAN", "1500", "pass"),
        CheckResult("fabric.bridges.no_flooding", "fabric", "0 frames",
                    "14 frames" if last else "0 frames", "fail" if last else "pass",
                    "/lab/demo/pcap/flood.pcap" if last else ""),
        CheckResult("rdma.nics.perftest", "rdma", "ib_write_bw", "n/a", "skipped", "no RDMA device"),
    ]


def make_history(lab_dir: Path, nights: int = 6) -> list[int]:
    """`nights` nightly runs ending now; the last one fails the flooding check."""
    rng = np.random.default_rng(42)
    ids = []
    with History.for_lab(lab_dir) as history:
        for night in range(nights):
            last = night == nights - 1
            results = _storage(rng, night) + _lb(rng, night) + _fabric(last)
            kernel = "6.1.0-28" if night < nights - 2 else "6.1.0-31"
            run = RunRecord(lab=LAB, started_at=time.time() - 86400 * (nights - 1 - night),
                            results=results, topology_hash="3f2a9c", duration_s=95.0 + night,
                            config={"kernel": kernel, "versions": {"fio": "3.33", "frr": "8.4"}})
            ids.append(history.record_run(run))
            if night:
                regress_against_baseline(history, ids[-1])
    return ids


@pytest.fixture
def lab_dir(tmp_path: Path) -> Path:
    directory = tmp_path / LAB
    make_history(directory)
    return directory


def _vpns(n: int) -> list[VpnState]:
    """An IKEv2 pair served by its active instance and a WireGuard gateway whose
    counters start again at each re-key and which re-handshakes every 2 min."""
    hq = (VpnInstanceState("vpn.hq.1", "active", True, True, True, 40_000 * n, 38_000 * n),
          VpnInstanceState("vpn.hq.2", "standby", False, True, False, 0, 0))
    branch = VpnInstanceState("vpn.branch", "active", True, True, True, 30_000 * (n % 20), 29_000 * (n % 20),
                              handshake_at=time.time() - 5 * (n % 24))
    return [VpnState("hq", "ikev2", True, hq), VpnState("branch", "wireguard", True, (branch,))]


class TrafficSource:
    """Stands in for the LB's BPF maps, the fabric's interface counters and the
    VPN daemons: every read sees more traffic, like a lab under load."""

    def __init__(self) -> None:
        self.reads = itertools.count(1)

    def collect(self):
        n = next(self.reads)
        lb = [LbBackendCounters("web", "192.0.2.10", 80, "tcp", b, 1000 * n + 37 * i,
                                900_000 * n, 20 * n, healthy=(i == 0 or n % 7 != 0))
              for i, b in enumerate(BACKENDS)]
        fabric = [FabricInterfaceCounters(s, "eth0", 5000 * n, 4900 * n, 6_000_000 * n,
                                          5_900_000 * n, rx_dropped=n // 3)
                  for s in ("hv1", "hv2", "hv3", "hv4", "mux1")]
        bgp = [MuxBgpState(mux, "198.18.0.1", True, n % 5 != 0, ("192.0.2.10",), 1)
               for mux in ("mux1", "mux2")]
        return [*lb_families(LAB, lb, {("web", "no_rule"): 3 * n}),
                *fabric_families(LAB, fabric, {("hv1", 1001): 4, ("hv2", 1002): 2}),
                *bgp_families(LAB, bgp), *vpn_families(LAB, _vpns(n))]


@pytest.fixture
def traffic() -> TrafficSource:
    return TrafficSource()


@pytest.fixture(scope="module")
def module_lab_dir(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("lab") / LAB
    make_history(directory)
    return directory


@pytest.fixture(scope="module")
def module_traffic() -> TrafficSource:
    return TrafficSource()
