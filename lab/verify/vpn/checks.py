"""The vpn group of `lab verify`, per VPN gateway:

- vpn.<name>.tunnel_up: the site's tunnel ends at the serving gateway
  instance and is established at both ends (IKEv2: IKE and CHILD SA; WireGuard:
  a live session, and authenticated traffic received by both ends within a
  few keepalive intervals: a handshake that no longer works shows there);
- vpn.<name>.reach: the site's subnet and the tenant's subnets reach each
  other both ways, and from the site's subnet nothing else answers: no other
  tenant's subnet, no underlay address, not the client;
- vpn.<name>.failover (a pair; lab.verify.vpn.failover).
"""

from __future__ import annotations

import ipaddress
import time
from functools import partial

from lab.plan.model import Plan
from lab.plan.vpn_model import VpnSpec
from lab.verify.endpoints import endpoint, reach_from
from lab.verify.result import CheckResult
from lab.verify.runner import Check, named_check
from lab.verify.vpn.failover import check_failover
from lab.vpn import ends
from lab.vpn.state import serving

GROUP = "vpn"
TRAFFIC_WINDOW_INTERVALS = 3  # keepalive intervals within which both ends must receive something


def check_tunnel_up(plan: Plan, name: str) -> CheckResult:
    vpn = plan.vpn(name)
    host = serving(vpn)
    inst, site = vpn.instance(host), ends.site_end(vpn)
    target = f"{vpn.protocol} tunnel between {site.host} and {host} ({inst.public_address}) established"
    down = [e.host for e in (site, ends.instance_end(vpn, host)) if ends.running(vpn, e) is None]
    if down:
        return _result(name, "tunnel_up", target, "daemon down", False, f"not running: {', '.join(down)}")
    gw_side, site_side = ends.tunnel(vpn, ends.instance_end(vpn, host)), ends.tunnel(vpn, site)
    problems = [f"{where}: no tunnel" for where, t in ((host, gw_side), (site.host, site_side)) if not t["up"]]
    if site_side["up"] and site_side["remote"] != inst.public_address:
        problems.append(f"{site.host}'s tunnel ends at {site_side['remote']}, not at {host}")
    metrics: dict[str, list[float]] = {}
    if not problems and vpn.protocol == "wireguard":
        problems += _traffic_flows(vpn, host, gw_side, site_side, metrics)
    evidence = "; ".join(problems) or (f"{site.host} -> {site_side['remote']}" + (
        f", last handshake {site_side['age_s']:.0f} s ago" if site_side.get("age_s") is not None else ""))
    return _result(name, "tunnel_up", target, "down" if problems else "up", not problems, evidence, metrics)


def _traffic_flows(vpn: VpnSpec, host: str, gw_before: dict, site_before: dict,
                   metrics: dict[str, list[float]]) -> list[str]:
    """Both ends receive authenticated packets (keepalives at least) within the window."""
    window = vpn.keepalive_s * TRAFFIC_WINDOW_INTERVALS + 0.5
    time.sleep(window)
    gw_after = ends.tunnel(vpn, ends.instance_end(vpn, host))
    site_after = ends.tunnel(vpn, ends.site_end(vpn))
    problems = []
    for where, before, after in ((host, gw_before, gw_after), (vpn.site.host, site_before, site_after)):
        got = after.get("rx_bytes", 0) - before.get("rx_bytes", 0)
        metrics[f"vpn_rx_bytes_{'site' if where == vpn.site.host else 'gateway'}"] = [float(got)]
        if got <= 0:
            problems.append(f"{where} received nothing through the tunnel in {window:.1f} s "
                            "(its peer's packets do not authenticate: keys?)")
    return problems


def _result(name: str, what: str, target: str, measured: str, ok: bool, evidence: str,
            metrics: dict[str, list[float]] | None = None) -> CheckResult:
    return CheckResult(f"vpn.{name}.{what}", GROUP, target, measured, "pass" if ok else "fail",
                       evidence=evidence, metrics=metrics or {})


def _first_hosts(prefixes: list[str]) -> list[str]:
    return [str(ipaddress.ip_network(p).network_address + 1) for p in prefixes]


def _inside(address: str, prefixes: list[str]) -> bool:
    return any(ipaddress.ip_address(address) in ipaddress.ip_network(p) for p in prefixes)


def forbidden_targets(plan: Plan, vpn: VpnSpec) -> list[str]:
    """What the site's subnet must not reach: other tenants' addresses (those
    the site can name: not inside its own tenant's prefixes), every underlay
    address, the client."""
    others = [e.address for e in plan.endpoints if e.tenant != vpn.tenant]
    others += [a for t in plan.tenants if t.name != vpn.tenant for a in _first_hosts(list(t.subnets.values()))]
    underlay = [h.underlay_ip for h in plan.hosts if h.underlay_ip]
    found = [a for a in others if not _inside(a, vpn.tenant_subnets)] + underlay + [plan.client_address]
    return list(dict.fromkeys(found))


def check_reach(plan: Plan, name: str) -> CheckResult:
    vpn = plan.vpn(name)
    site, lan = vpn.site, vpn.site.lan_address
    tenant_targets = [e.address for e in plan.endpoints if e.tenant == vpn.tenant] + _first_hosts(vpn.tenant_subnets)
    to_tenant = reach_from(site.namespace, tenant_targets, "--source", lan)
    from_tenant = _from_tenant(plan, vpn)
    forbidden = forbidden_targets(plan, vpn)
    # one try each: a leak answers within the timeout from inside this machine, loaded or not
    leaks = reach_from(site.namespace, forbidden, "--source", lan, "--tries", "1") if forbidden else []
    lost_to = [r["target"] for r in to_tenant if not r["reachable"]]
    lost_back = [src for src, reached in from_tenant if not reached]
    missed = [f"{site.host} -> {t}" for t in lost_to] + [f"{src} -> {lan}" for src in lost_back]
    leaked = [r["target"] for r in leaks if r["reachable"]]
    ok = not missed and not leaked
    target = (f"{vpn.site_subnet} <-> {', '.join(vpn.tenant_subnets)} both ways; nothing else from the site "
              f"({len(forbidden)} other addresses)")
    measured = (f"{len(to_tenant) - len(lost_to)}/{len(to_tenant)} tenant addresses, "
                f"{len(from_tenant) - len(lost_back)}/{len(from_tenant)} back, {len(leaked)} leaks")
    evidence = "; ".join(filter(None, [f"unreachable: {', '.join(missed)}" if missed else "",
                                       f"reachable but must not be: {', '.join(leaked)}" if leaked else ""]))
    return _result(name, "reach", target, measured, ok, evidence or f"not reachable from {lan}: "
                   f"{', '.join(forbidden)}", {"vpn_leaks": [float(len(leaked))],
                                               "vpn_unreachable": [float(len(missed))]})


def _from_tenant(plan: Plan, vpn: VpnSpec) -> list[tuple[str, bool]]:
    """The site's LAN address from every tenant endpoint (a namespace or a VM),
    or, with none, from the tenant gateway's first subnet address."""
    lan = vpn.site.lan_address
    eps = [e for e in plan.endpoints if e.tenant == vpn.tenant]
    if not eps:
        source = _first_hosts(vpn.tenant_subnets)[0]
        result = reach_from(vpn.tenant_gateway_namespace, [lan], "--source", source)
        return [(vpn.tenant_gateway, result[0]["reachable"])]
    return [(e.name, endpoint(plan.lab, e, e.namespace).reach([lan], 3)[0]["reachable"]) for e in eps]


def verify_checks(plan: Plan) -> list[Check]:
    checks: list[Check] = []
    for vpn in plan.vpns:
        n = vpn.name
        checks += [named_check(f"vpn.{n}.tunnel_up", GROUP, partial(check_tunnel_up, plan, n), vpn.protocol),
                   named_check(f"vpn.{n}.reach", GROUP, partial(check_reach, plan, n), vpn.site_subnet)]
        if vpn.pair:
            checks.append(named_check(f"vpn.{n}.failover", GROUP,
                                      partial(check_failover, plan, n, spec_s=plan.specs.vpn_failover_s),
                                      f"<= {plan.specs.vpn_failover_s:g} s"))
    return checks
