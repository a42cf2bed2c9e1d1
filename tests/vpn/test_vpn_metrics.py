"""`lab exporter` serves the VPN's state: tunnel up, serving instance, bytes
(no root: the daemons' answers stood in for; the live test scrapes real ones)."""

from __future__ import annotations

import subprocess

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from lab import features
from lab.model import load_topology
from lab.plan.planner import build_plan
from lab.report.collectors import vpn as collector
from lab.vpn.state import save_specs, set_serving
from tests.fabric.helpers import ROOT
from tests.report.tools import require_binary

LAB = "vpn"  # the plan of topologies/vpn.yaml, saved in a scratch STACKLAB_HOME


def _samples(text: str) -> dict[tuple[str, tuple], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def _fake_daemons(monkeypatch, down: set[str]) -> None:
    def tunnel(vpn, end):
        if end.host in down:
            return {"up": False, "remote": ""}
        state = {"up": True, "remote": "x", "rx_bytes": 1000, "tx_bytes": 2000}
        return {**state, "age_s": 1.0, "handshake_at": 1.7e9} if vpn.protocol == "wireguard" else state

    monkeypatch.setattr(collector.ends, "tunnel", tunnel)
    monkeypatch.setattr(collector.ends, "running", lambda vpn, end: None if end.host in down else 1)
    monkeypatch.setattr(collector.ends, "healthy", lambda vpn, end: end.host not in down)


def test_tunnel_serving_instance_and_bytes_are_exported(tmp_path, monkeypatch):
    monkeypatch.setenv("STACKLAB_HOME", str(tmp_path))
    plan = build_plan(load_topology(ROOT / "topologies" / "vpn.yaml"))
    assert collector.vpn_collector(tmp_path, LAB) is None  # no VPN up: nothing to collect
    save_specs(LAB, plan.vpns)
    set_serving(plan.vpn("hq"), "vpn.hq.2", "test: the active failed")
    _fake_daemons(monkeypatch, down={"vpn.hq.1"})
    assert "vpn" in features.collector_factories()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector.vpn_collector(tmp_path, LAB))
    text = generate_latest(registry).decode()
    got = _samples(text)

    def one(name: str, **labels: str) -> float:
        return got[(name, tuple(sorted({"lab": LAB, **labels}.items())))]

    assert one("stacklab_vpn_tunnel_up", vpn="hq", protocol="ikev2") == 1.0
    hq1, hq2 = {"vpn": "hq", "instance": "vpn.hq.1", "role": "active"}, {
        "vpn": "hq", "instance": "vpn.hq.2", "role": "standby"}
    assert one("stacklab_vpn_instance_serving", **hq1) == 0.0 and one("stacklab_vpn_instance_serving", **hq2) == 1.0
    assert one("stacklab_vpn_instance_up", **hq1) == 0.0 and one("stacklab_vpn_instance_up", **hq2) == 1.0
    assert one("stacklab_vpn_instance_tunnel_up", **hq1) == 0.0
    assert one("stacklab_vpn_receive_bytes_total", **hq2) == 1000.0
    branch = {"vpn": "branch", "instance": "vpn.branch", "role": "active"}
    assert one("stacklab_vpn_transmit_bytes_total", **branch) == 2000.0
    assert one("stacklab_vpn_last_handshake_timestamp_seconds", **branch) == 1.7e9
    check = subprocess.run([require_binary("promtool"), "check", "metrics"], input=text, capture_output=True,
                           check=False, text=True, timeout=30)
    assert check.returncode == 0, check.stdout + check.stderr
