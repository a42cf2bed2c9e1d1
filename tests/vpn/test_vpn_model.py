"""The VPN gateways' validation: every bad value is named by its field with
the fix, all at once, and nothing is planned from it (lab validate exits 2)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from lab.model import TopologyError, parse_topology
from tests.fabric.helpers import ROOT

BASE = """name: vpnm
servers: [{name: hv1}]
tenants:
  - {name: red, vni: 1001, subnets: [{name: web, prefix: 100.64.1.0/24}]}
  - {name: blue, vni: 1002, subnets: [{name: web, prefix: 100.64.1.0/24}]}
vpn_gateways:
"""


def problems(gateways: str) -> dict[str, str]:
    with pytest.raises(TopologyError) as err:
        parse_topology(BASE + gateways)
    return {i.path: i.message for i in err.value.issues}


def test_a_valid_gateway_pair_and_a_wireguard_gateway_parse():
    topo = parse_topology(BASE + "  - {name: hq, tenant: red, pair: true, peer_site: {subnet: 203.0.113.0/25}}\n"
                          "  - {name: br, tenant: blue, protocol: wireguard, peer_site: {subnet: 203.0.113.128/25,"
                          " address: 198.51.100.200}}\n")
    assert [(g.name, g.protocol, g.pair) for g in topo.vpn_gateways] == [("hq", "ikev2", True),
                                                                          ("br", "wireguard", False)]
    assert topo.specs.vpn_failover_s == 10.0


@pytest.mark.parametrize(("gateway", "path", "fragments"), [
    ("{name: hq, tenant: rde, peer_site: {subnet: 203.0.113.0/25}}", "vpn_gateways[0].tenant",
     ["unknown tenant 'rde'", "known: red, blue"]),
    ("{name: hq, tenant: red, peer_site: {subnet: 100.64.1.0/25}}", "vpn_gateways[0].peer_site.subnet",
     ["overlaps subnet 'web' of tenant 'red'", "reachable through the tunnel only"]),
    ("{name: hq, tenant: red, peer_site: {subnet: 240.0.1.0/24}}", "vpn_gateways[0].peer_site.subnet",
     ["outside the ranges a lab may route", "203.0.113.0/24"]),
    ("{name: hq, tenant: red, peer_site: {subnet: 198.51.100.0/26}}", "vpn_gateways[0].peer_site.subnet",
     ["overlaps external.subnet 198.51.100.0/24"]),
    ("{name: hq, tenant: red, peer_site: {subnet: 198.18.0.128/25}}", "vpn_gateways[0].peer_site.subnet",
     ["overlaps underlay.subnet"]),
    ("{name: hq, tenant: red, peer_site: {subnet: 192.0.2.0/28}}", "vpn_gateways[0].peer_site.subnet",
     ["overlaps external.vip_pool"]),
    ("{name: hq, tenant: red, peer_site: {subnet: 203.0.113.0/25, address: 192.0.2.9}}",
     "vpn_gateways[0].peer_site.address", ["outside external.subnet", "external network"]),
    ("{name: hq, tenant: red, peer_site: {subnet: 203.0.113.0/25, address: 198.51.100.10}}",
     "vpn_gateways[0].peer_site.address", ["the client's address"]),
    ("{name: hq, tenant: red, protocol: wg, peer_site: {subnet: 203.0.113.0/25}}", "vpn_gateways[0].protocol",
     ["'wg' is not allowed", "'ikev2' or 'wireguard'"]),
    ("{name: hq, tenant: red, peer_site: {subnet: 203.0.113.0/31}}", "vpn_gateways[0].peer_site.subnet",
     ["too small"]),
])
def test_each_bad_field_is_named_with_its_fix(gateway, path, fragments):
    found = problems(f"  - {gateway}\n")
    assert path in found, found
    assert all(f in found[path] for f in fragments), found[path]


def test_two_sites_of_one_tenant_must_not_overlap_and_names_are_unique():
    found = problems("  - {name: hq, tenant: red, peer_site: {subnet: 203.0.113.0/25}}\n"
                     "  - {name: hq, tenant: red, peer_site: {subnet: 203.0.113.0/26}}\n")
    assert "duplicate VPN gateway name 'hq'" in found["vpn_gateways[1].name"]
    assert "the site of vpn_gateways[0] (same tenant)" in found["vpn_gateways[1].peer_site.subnet"]


def test_sites_of_different_tenants_may_overlap_like_tenants_do():
    parse_topology(BASE + "  - {name: a, tenant: red, peer_site: {subnet: 203.0.113.0/25}}\n"
                          "  - {name: b, tenant: blue, peer_site: {subnet: 203.0.113.0/25}}\n")


def test_validate_exits_2_and_builds_nothing(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(BASE + "  - {name: hq, tenant: red, peer_site: {subnet: 100.64.1.0/25}}\n")
    proc = subprocess.run([sys.executable, "-m", "lab", "up", str(bad), "--dry-run"], capture_output=True,
                          text=True, timeout=120, cwd=ROOT, check=False)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "vpn_gateways[0].peer_site.subnet" in proc.stdout + proc.stderr


def test_the_failover_spec_is_bounded():
    with pytest.raises(TopologyError) as err:
        parse_topology(BASE + "  []\nspecs: {vpn_failover_s: 0}\n")
    assert any(i.path == "specs.vpn_failover_s" for i in err.value.issues)
