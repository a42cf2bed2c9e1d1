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


def _probe(lab: str, vip: str, port: int, proto: str, count: int, timeout: float = 3.0) -> dict:
    return run_collector(client_ns(lab), "lb_probe", vip, str(port), "--proto", proto,
                         "--count", str(count), "--timeout", str(timeout), "--budget", "60")


def check_frontends(lab: str, attempts: int = 3) -> list[CheckResult]:
    """Each frontend (VIP:port/protocol; HA ports on several ports and UDP)
    answers every attempt, from its VIP."""
    results = []
    for mux in muxes_of(lab):
        spec = load_state(lab, mux).spec
        for lb in spec.lbs:
            with traffic.echo_backends(lb.backends, lab, traffic.echo_ports(lb)):
                wait_healthy(lab, mux, lb)
                for fe in lb.frontends:
                    for port, proto in _probes(fe):
                        results.append(_check_one(lab, lb, fe, port, proto, attempts))
    return results


def _check_one(lab: str, lb: LbSpec, fe: FrontendSpec, port: int, proto: str,
               attempts: int) -> CheckResult:
    t0 = time.monotonic()
    servers = sorted({b.server_namespace for b in lb.backends}) if fe.backend_port else []
    before = _rewrites(servers, fe)
    data = _probe(lab, fe.vip, port, proto, attempts)
    ok = data["answered"] == attempts and data["from_vip"] == attempts
    measured = (f"{data['answered']}/{data['attempts']} answered, {data['from_vip']} from the VIP, "
                f"by {', '.join(data['replies']) or 'nobody'}")
    target = f"{attempts}/{attempts} answered from {fe.vip} ({fe.label()})"
    if fe.backend_port:
        after = _rewrites(servers, fe)
        into, back = after[0] - before[0], after[1] - before[1]
        ok = ok and into >= attempts and back >= attempts
        target += f", rewritten to port {fe.backend_port} and back by the host agents"
        measured += f"; host agents rewrote {into} packets to :{fe.backend_port}, {back} replies back"
    return result(f"lb.{lb.name}.{fe.vip}:{port}/{proto}", target, measured, ok, t0)


def _rewrites(namespaces: list[str], fe: FrontendSpec) -> tuple[int, int]:
    """Packets the servers' port maps rewrote for this rule so far (in, out)."""
    into = back = 0
    for ns in namespaces:
        counts = portmap.rewrite_counts(ns)
        into += counts.get((fe.vip, "in", fe.port), 0)
        back += counts.get((fe.vip, "out", fe.backend_port or 0), 0)
    return into, back


def check_no_rule_dropped(lab: str, attempts: int = 3) -> list[CheckResult]:
    """Secure by default: a VIP port that no rule opens gets no answer, and
    the datapath counts the drops. The VIP's backends serve meanwhile, so the
    VIP is advertised (a MUX withdraws a VIP without a healthy backend, and
    the probe would then measure the ToR, not the MUX); drops are summed over
    every MUX, as ECMP may send each SYN to another."""
    results = []
    for mux in muxes_of(lab):
        spec = load_state(lab, mux).spec
        vips = sorted({fe.vip for lb in spec.lbs for fe in lb.frontends if fe.port != 0})
        for vip in vips:
            lb = next(lb for lb in spec.lbs if any(fe.vip == vip for fe in lb.frontends))
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
