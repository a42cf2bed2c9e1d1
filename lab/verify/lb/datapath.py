"""Per-MUX datapath checks: DSR with an even spread (chi-square) and no
return traffic at the MUX, HA ports on arbitrary TCP/UDP ports, and flow
affinity when the ring changes."""

from __future__ import annotations

import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from scipy.stats import chisquare

from lab.apply.nsexec import popen_in_namespace
from lab.lb.control import MuxController, with_controller
from lab.verify.lb import traffic
from lab.verify.lb.common import (
    client_ns,
    frontend,
    load_state,
    muxes_of,
    pool,
    pool_changes,
    result,
    skipped,
    tcp_target,
    wait_healthy,
)
from lab.verify.result import CheckResult

# the spread is measured again (once) when a backend left the pool or flapped during the run
DSR_RETRIES = 1


@contextmanager
def _capture_src(namespace: str, ifname: str, src: str) -> Iterator[list[int]]:
    """Count frames from `src` seen on the MUX NIC (return traffic must be 0)."""
    proc = popen_in_namespace(namespace, ["tcpdump", "-nn", "-q", "-l", "-i", ifname, f"src host {src}"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    count = [0]
    deadline = time.monotonic() + 10
    while "listening on" not in (line := proc.stderr.readline()):  # attached before any traffic
        if (not line and proc.poll() is not None) or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"tcpdump on {namespace}/{ifname} did not start: {line.strip()}")
    try:
        yield count
    finally:
        time.sleep(0.2)
        proc.terminate()
        out = proc.communicate(timeout=5)[0]
        count[0] = len([line for line in out.splitlines() if line.strip()])


def check_dsr(lab: str, mux: str, connections: int = 1000, budget_s: float = 90.0,
              p_min: float = 0.001) -> CheckResult:
    """>= `connections` TCP connections to a VIP: answered from the VIP, zero
    return packets at the MUX (capture and counters), even spread (chi-square).
    The spread only means something while every backend stays in the pool:
    a run during which one left or flapped is repeated once, then reported."""
    name, t0 = f"lb.{mux}.dsr_distribution", time.monotonic()
    target = tcp_target(lab, mux)
    if isinstance(target, str):
        return skipped(name, target)
    lb, fe, port = target
    with MuxController.open(lab, mux) as ctl:
        spec, before = ctl.spec, ctl.maps.global_counters()
        with (traffic.echo_backends(lb.backends, lab, traffic.echo_ports(lb)),
              _capture_src(spec.namespace, spec.ifname, fe.vip) as seen):
            runs, unstable = 0, ["not measured"]
            while unstable and runs <= DSR_RETRIES:
                runs += 1
                wait_healthy(lab, mux, lb)
                before_pool = pool(lab, mux, lb)
                results = traffic.many(client_ns(lab), fe.vip, port, connections, budget_s)
                unstable = pool_changes(before_pool, pool(lab, mux, lb))
        after = ctl.maps.global_counters()
    names = Counter(r for r, _ in results)
    ok_conns = sum(c for n, c in names.items() if not n.startswith("error"))
    from_vip = sum(1 for r, peer in results if peer == fe.vip and not r.startswith("error"))
    counts = [names.get(b.name, 0) for b in lb.backends]
    p = float(chisquare(counts).pvalue) if ok_conns else 0.0
    passed_back = after["non_vip_pass"] - before["non_vip_pass"]
    # the capture counts exactly the return direction (source = VIP) at the MUX;
    # the datapath's non-VIP counter is any other IPv4 and only evidence
    ok = ok_conns == connections and from_vip == ok_conns and seen[0] == 0 and p > p_min and not unstable
    spread = dict(zip([b.name for b in lb.backends], counts, strict=True))
    measured = (f"{ok_conns}/{connections} answered from {fe.vip}; per backend {spread}; "
                f"chi-square p={p:.3g}; return packets at MUX: {seen[0]} captured "
                f"(non-VIP IPv4 at the MUX: {passed_back})")
    if runs > 1 or unstable:
        measured += (f"; backends out of the pool or flapping: run {runs} of {1 + DSR_RETRIES} "
                     f"measured with {unstable or 'none'}")
    return result(name, f"{connections} conns ok, replies from VIP, 0 return pkts at MUX, p>{p_min}",
                   measured, ok, t0, evidence=", ".join(f"{k}={v}" for k, v in names.items()),
                   metrics={"chi_square_p": [p], "connections_ok": [ok_conns],
                            **{f"backend_flows:{b}": [float(n)] for b, n in spread.items()}})


def check_ha_ports(lab: str, mux: str) -> CheckResult:
    """An HA-ports VIP forwards arbitrary TCP ports and UDP."""
    name, t0 = f"lb.{mux}.ha_ports", time.monotonic()
    spec = load_state(lab, mux).spec if mux in muxes_of(lab) else None
    found = frontend(spec, ha=True) if spec else None
    if found is None:
        return skipped(name, f"no HA-ports frontend on {mux}")
    lb, fe = found
    with traffic.echo_backends(lb.backends, lab, traffic.echo_ports(lb)):
        wait_healthy(lab, mux, lb)
        tcp = {port: traffic.one_shot(client_ns(lab), fe.vip, port)[0] for port in traffic.ECHO_TCP}
        udp = {port: traffic.udp_ask(client_ns(lab), fe.vip, port) for port in traffic.ECHO_UDP}
    names = {b.name for b in lb.backends}
    ok = all(v in names for v in [*tcp.values(), *udp.values()])
    return result(name, f"TCP {list(tcp)} and UDP {list(udp)} to {fe.vip} answered",
                   f"tcp {tcp}; udp {udp}", ok, t0)


def check_affinity(lab: str, mux: str, flows: int = 120) -> CheckResult:
    """Open flows keep their backend when the ring changes (one backend taken
    out of the ring: its established flows stay too, as with failed probes)."""
    name, t0 = f"lb.{mux}.flow_affinity", time.monotonic()
    target = tcp_target(lab, mux)
    if isinstance(target, str):
        return skipped(name, target)
    lb, fe, port = target
    victim = lb.backends[0].name
    goal = "0 of the open flows change backend when the ring changes"
    conns: list[traffic.Conn] = []
    with traffic.echo_backends(lb.backends, lab, traffic.echo_ports(lb)):
        wait_healthy(lab, mux, lb)
        try:
            for _ in range(flows):
                try:
                    conns.append(traffic.Conn(client_ns(lab), fe.vip, port, timeout=1.0))
                except OSError as exc:
                    return result(name, goal, f"connection {len(conns) + 1}/{flows} to {fe.vip}:{port} "
                                   f"failed: {exc!r}", False, t0)
            first = [c.ask() for c in conns]
            with with_controller(lab, mux) as ctl:
                ctl.set_health(lb.name, victim, False)
            try:
                second = [c.ask() for c in conns]
            finally:
                with with_controller(lab, mux) as ctl:
                    ctl.set_health(lb.name, victim, True)
        finally:
            for c in conns:
                c.close()
    moved = sum(1 for a, b in zip(first, second, strict=True) if a != b)
    ok = moved == 0 and not any(a.startswith("error") for a in first)
    return result(name, goal, f"{moved}/{len(first)} flows moved after taking {victim} out of the ring",
                   ok, t0, metrics={"moved_fraction": [moved / max(1, len(first))]})
