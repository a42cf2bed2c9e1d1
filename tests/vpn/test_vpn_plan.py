"""The VPN part of the plan: pure, from topologies/vpn.yaml."""

from __future__ import annotations

import ipaddress

from lab.model import load_topology
from lab.plan.planner import build_plan
from lab.vpn.render import ends, swanctl_conf, wireguard_conf
from lab.vpn.uapi import parse_conf
from tests.fabric.helpers import ROOT

TOPOLOGY = ROOT / "topologies" / "vpn.yaml"


def plan():
    return build_plan(load_topology(TOPOLOGY))


def test_a_pair_gets_two_instances_and_a_site_each_vpn_one_site():
    p = plan()
    hq, branch = p.vpn("hq"), p.vpn("branch")
    assert [(i.host, i.role) for i in hq.instances] == [("vpn.hq.1", "active"), ("vpn.hq.2", "standby")]
    assert [i.host for i in branch.instances] == ["vpn.branch"]
    assert {h.name: h.role for h in p.hosts if h.role in ("vpn", "site")} == {
        "vpn.hq.1": "vpn", "vpn.hq.2": "vpn", "vpn.branch": "vpn", "site.hq": "site", "site.branch": "site"}


def test_gateways_are_vteps_of_their_tenant_and_every_vtep_learns_them():
    p = plan()
    hq = p.vpn("hq")
    for inst in hq.instances:
        host = p.host(inst.host)
        assert inst.public_address == host.underlay_ip
        assert any(link.vxlan and link.vxlan.vni == hq.vni for link in host.links)
        assert [str(ipaddress.ip_interface(a).network) for a in inst.tenant_addresses] == hq.tenant_subnets
    vteps = [h for h in p.hosts if any(link.vxlan and link.vxlan.vni == hq.vni for link in h.links)]
    for host in vteps:
        others = [i for i in hq.instances if i.host != host.name]
        assert all(any(f.mac == i.mac and f.dst == i.public_address for f in host.fdb) for i in others), host.name
    blue_gw = p.host("gw.blue")
    assert not any(f.mac in {i.mac for i in hq.instances} for f in blue_gw.fdb)  # tenants stay apart


def test_sites_sit_on_the_external_bridge_and_nothing_routes_their_subnets():
    p = plan()
    tor = next(h for h in p.hosts if h.role == "tor")
    assert next(a for a in tor.addresses if a.ifname == "external").cidr == "198.51.100.1/24"
    assert next(link for link in tor.links if link.name == "client").master == "external"
    ports = [link for link in tor.links if link.peer and link.peer.host.startswith("site.")]
    assert {link.peer.host for link in ports} == {"site.hq", "site.branch"} and all(
        link.master == "external" for link in ports)
    sites = [ipaddress.ip_network(v.site_subnet) for v in p.vpns]
    routed = [r.dst for h in p.hosts for r in h.routes if r.dst != "default"]
    assert not any(ipaddress.ip_network(d).overlaps(s) for d in routed for s in sites)
    assert p.vpn("branch").site.public_address == "198.51.100.200"
    assert p.vpn("hq").site.public_address == "198.51.100.254"


def test_the_plan_names_the_secret_never_a_key():
    p = plan()
    text = p.model_dump_json()
    assert p.vpn("hq").secret == "vpn-hq" and "psk" not in text.lower() and "private" not in text.lower()


def test_rendered_configs_pair_both_ends():
    p = plan()
    wg = p.vpn("branch")
    keys = {"gateway_private": "A" * 43 + "=", "gateway_public": "B" * 43 + "=", "site_private": "C" * 43 + "=",
            "site_public": "D" * 43 + "=", "preshared": "E" * 43 + "="}
    gw_end, site_end = ends(wg, wg.active.host)
    gw, site = parse_conf(wireguard_conf(wg, gw_end, keys)), parse_conf(wireguard_conf(wg, site_end, keys))
    assert gw.peers[0].public_key == keys["site_public"] and site.peers[0].public_key == keys["gateway_public"]
    assert gw.peers[0].allowed_ips == [wg.site_subnet] and site.peers[0].allowed_ips == wg.tenant_subnets
    assert site.peers[0].endpoint == f"{wg.active.public_address}:51820"
    hq = p.vpn("hq")
    active, standby, site_e = ends(hq, hq.active.host)
    site_conf = swanctl_conf(hq, site_e, "secret")
    assert f"remote_addrs = {active.local_address},{standby.local_address}" in site_conf
    assert "start_action = start" in swanctl_conf(hq, active, "s")
    assert "start_action = none" in swanctl_conf(hq, standby, "s") and "unique = replace" in site_conf
