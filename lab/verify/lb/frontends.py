"""Per-frontend LB checks, measured with the standalone collectors/lb_probe.py
from the client namespace: every VIP answers on its rules (from the VIP:
DSR; a remapped rule through the host agents' rewrite, counted on the
servers), and a VIP port without a rule is dropped and counted (secure by
default)."""

from __future__ import annotations

import time

from lab.apply import portmap
from lab.apply.nsexec import run_collector
from lab.lb.control import MuxController
from lab.lb.state import load_state, muxes_of
from lab.plan.lb_model import FrontendSpec, LbSpec
from lab.verify.lb import traffic
from lab.verify.lb.common import client_ns, result, wait_healthy
from lab.verify.result import CheckResult

HA_PROBES = ((80, "tcp"), (31337, "tcp"), (5353, "udp"))
NO_RULE_PORT = 81  # a port no test frontend opens


def _probes(fe: FrontendSpec) -> tuple[tuple[int, str], ...]:
    return HA_PROBES if fe.port == 0 else ((fe.port, fe.protocol),)


PER_BACKEND = 10  # attempts per backend: all of 3 backends are reached with p > 0.9999


def _probe(lab: str, vip: str, port: int, proto: str, count: int, timeout: float = 3.0,
           stop_on_miss: bool = False) -> dict:
    return run_collector(client_ns(lab), "lb_probe", vip, str(port), "--proto", proto,
                         "--count", str(count), "--timeout", str(timeout), "--budget", "60",
                         *(["--stop-on-miss"] if stop_on_miss else []))


def _each_lb(lab: str) -> list[tuple[str, LbSpec]]:
    """Every load balancer once, with the first MUX that carries it: the
    client reaches a pooled LB through the ToR whichever MUX it picks, so
    measuring it once per MUX would repeat one measurement under one name."""
    seen: dict[str, tuple[str, LbSpec]] = {}
    for mux in muxes_of(lab):
        for lb in load_state(lab, mux).spec.lbs:
            seen.setdefault(lb.name, (mux, lb))
    return list(seen.values())


def check_frontends(lab: str, attempts: int = 3) -> list[CheckResult]:
    """Each frontend (VIP:port/protocol; HA ports on several ports and UDP)
    answers every attempt, from its VIP."""
    results = []
    for mux, lb in _each_lb(lab):
        with traffic.echo_backends(lb.backends, lab, traffic.echo_ports(lb)):
            wait_healthy(lab, mux, lb)
            for fe in lb.frontends:
                for port, proto in _probes(fe):
                    results.append(_check_one(lab, lb, fe, port, proto, attempts))
    return results


def _check_one(lab: str, lb: LbSpec, fe: FrontendSpec, port: int, proto: str,
               attempts: int) -> CheckResult:
    """Enough attempts to reach every backend (a broken path to one backend
    must not hide behind the hash), stopping at the first miss; each must be
    answered from the VIP, every backend must answer, and for a remapped
    rule every backend's server must have rewritten its share both ways."""
    t0 = time.monotonic()
    count = max(attempts, PER_BACKEND * len(lb.backends))
    servers = sorted({b.server_namespace for b in lb.backends}) if fe.backend_port else []
    before = _rewrites(servers, fe)
    data = _probe(lab, fe.vip, port, proto, count, stop_on_miss=True)
    unreached = sorted({b.name for b in lb.backends} - set(data["replies"]))
    ok = data["answered"] == count and data["from_vip"] == count and not unreached
    measured = (f"{data['answered']}/{count} answered, {data['from_vip']} from the VIP, "
                f"by {', '.join(data['replies']) or 'nobody'}"
                + (f"; never reached {', '.join(unreached)}" if unreached else ""))
    target = f"{count}/{count} answered from {fe.vip} ({fe.label()}) by every backend"
    if fe.backend_port:
        after = _rewrites(servers, fe)
        moved = {ns: (after[ns][0] - before[ns][0], after[ns][1] - before[ns][1]) for ns in servers}
        into, back = sum(i for i, _ in moved.values()), sum(b for _, b in moved.values())
        idle = sorted(ns.split(".", 1)[-1] for ns, (i, b) in moved.items() if not (i and b))
        ok = ok and into >= data["answered"] and back >= data["answered"] and not idle
        target += f", rewritten to port {fe.backend_port} and back by every server's host agent"
        measured += (f"; host agents rewrote {into} packets to :{fe.backend_port}, {back} replies back"
                     + (f"; no rewrite both ways on {', '.join(idle)}" if idle else ""))
    return result(f"lb.{lb.name}.{fe.vip}:{port}/{proto}", target, measured, ok, t0)


def _rewrites(namespaces: list[str], fe: FrontendSpec) -> dict[str, tuple[int, int]]:
    """Packets each server's port map rewrote for this rule so far (in, out)."""
    counts = {ns: portmap.rewrite_counts(ns) for ns in namespaces}
    return {ns: (c.get((fe.vip, "in", fe.port), 0), c.get((fe.vip, "out", fe.backend_port or 0), 0))
            for ns, c in counts.items()}


def check_no_rule_dropped(lab: str, attempts: int = 3) -> list[CheckResult]:
    """Secure by default: a VIP port that no rule opens gets no answer, and
    the datapath counts the drops. The VIP's backends serve meanwhile, so the
    VIP is advertised (a MUX withdraws a VIP without a healthy backend, and
    the probe would then measure the ToR, not the MUX); drops are summed over
    every MUX, as ECMP may send each SYN to another."""
    results = []
    by_vip: dict[str, tuple[str, LbSpec]] = {}
    for mux, lb in _each_lb(lab):
        for fe in lb.frontends:
            if fe.port != 0:
                by_vip.setdefault(fe.vip, (mux, lb))
    for vip, (mux, lb) in sorted(by_vip.items()):
        t0 = time.monotonic()
        with traffic.echo_backends(lb.backends, lab, traffic.echo_ports(lb)):
            wait_healthy(lab, mux, lb)
            before = _no_rule_drops(lab)
            data = _probe(lab, vip, NO_RULE_PORT, "tcp", attempts, timeout=1.0)
            counted = _no_rule_drops(lab) - before
        ok = data["answered"] == 0 and counted >= attempts
        results.append(result(
            f"lb.no_rule.{vip}:{NO_RULE_PORT}", f"no answer and >= {attempts} drops counted",
            f"{data['answered']} answered, {counted} no-rule drops counted", ok, t0,
            metrics={"no_rule_drops": [float(counted)]}))
    return results


def _no_rule_drops(lab: str) -> int:
    total = 0
    for mux in muxes_of(lab):
        with MuxController.open(lab, mux) as ctl:
            total += ctl.maps.global_counters()["no_rule_drop"]
    return total
