"""The MUX-pool checks of an LB carried by several MUXes: the ToR's ECMP
spreads flows evenly over them (chi-square), and losing one MUX moves
(almost) no established flow to another backend, because every MUX builds
the same Maglev ring; the lost MUX comes back and takes traffic again."""

from __future__ import annotations

import os
import threading
import time

from scipy.stats import chisquare

from lab.compute import host_load
from lab.compute.host_load import HostLoad
from lab.lb import build, loader
from lab.lb.control import MuxController
from lab.lb.state import load_state
from lab.plan.lb_model import LbSpec, MuxSpec
from lab.verify.lb import traffic
from lab.verify.lb.common import carriers, client_ns, probing, result, secs, skipped, wait_for, wait_healthy
from lab.verify.lb.failover import is_timeout, judged
from lab.verify.lb.routing import in_service, tor_nexthops
from lab.verify.result import CheckResult

ROUTE_SETTLE_S = 10.0  # announcement after the backends turn healthy: BGP update + zebra, < 1 s here


def pool_target(lab: str, lb_name: str) -> tuple[list[MuxSpec], LbSpec, int] | str:
    muxes = [load_state(lab, m).spec for m in carriers(lab, lb_name)]
    if len(muxes) < 2:
        return f"load balancer {lb_name} is on {len(muxes)} MUX(es): nothing to spread or fail over"
    if any(m.bgp is None for m in muxes):
        return "tor.routing is static: the ToR sends a VIP to one MUX"
    lb = muxes[0].lb(lb_name)
    fe = next((f for f in lb.frontends if f.protocol == "tcp"), None)
    if fe is None:
        return f"load balancer {lb_name} has no TCP rule"
    return muxes, lb, fe.port


def serving_pool(muxes: list[MuxSpec], lb: str, vip: str) -> list[MuxSpec] | str:
    """The MUXes in service (routing.in_service) once the ToR's route to the
    VIP has settled on them; a reason instead when fewer than two are: a pool
    with a MUX down is lb.bgp.sessions' finding, and spread or failover
    cannot be measured over one MUX."""
    pool = in_service(muxes)
    if len(pool) < 2:
        out = sorted({m.name for m in muxes} - {m.name for m in pool})
        return (f"load balancer {lb}: {', '.join(out)} not in service (no session with the ToR or no program "
                f"attached: see lb.bgp.sessions), so {len(pool)} MUX(es) to measure over")
    want = {m.underlay_ip for m in pool}
    wait_for(lambda: tor_nexthops(pool[0].lab, pool[0].tor_namespace, vip) == want, ROUTE_SETTLE_S, 0.1)
    return pool


def _new_flows(lab: str, mux: str) -> int:
    with MuxController.open(lab, mux) as ctl:
        return sum(s.new_flows for s in ctl.maps.pair_stats().values())


def check_ecmp_spread(lab: str, lb_name: str, flows: int = 1000, budget_s: float = 120.0,
                      p_min: float = 0.001) -> CheckResult:
    """>= `flows` TCP connections to the VIP; each MUX's new-flow counter
    says how many it got; chi-square against an even spread."""
    name, t0 = "lb.ecmp.spread", time.monotonic()
    target = pool_target(lab, lb_name)
    if isinstance(target, str):
        return skipped(name, target)
    muxes, lb, port = target
    vip = next(f.vip for f in lb.frontends if f.port == port)
    with traffic.echo_backends(lb.backends, lab, traffic.echo_ports(lb)), probing(lab, muxes[0].name, lb.name):
        wait_healthy(lab, muxes[0].name, lb)
        pool = serving_pool(muxes, lb_name, vip)
        if isinstance(pool, str):
            return skipped(name, pool)
        muxes = pool
        before = {m.name: _new_flows(lab, m.name) for m in muxes}
        answers = traffic.many(client_ns(lab), vip, port, flows, budget_s)
        got = {m.name: _new_flows(lab, m.name) - before[m.name] for m in muxes}
    ok_conns = sum(1 for a, _ in answers if not a.startswith("error"))
    p = float(chisquare(list(got.values())).pvalue) if sum(got.values()) else 0.0
    ok = ok_conns == flows and p > p_min
    return result(name, f"{flows} flows to {vip} spread over {len(muxes)} MUXes, chi-square p>{p_min}",
                  f"{lb_name}: {ok_conns}/{flows} answered; new flows per MUX {got}; p={p:.3g}", ok, t0,
                  metrics={"chi_square_p": [p], **{f"mux_flows:{m}": [float(n)] for m, n in got.items()}})


def _attach_pinned(mux: MuxSpec, pinned: loader.Pinned) -> None:
    fd = pinned.prog_fd()
    try:
        loader.attach(mux.namespace, mux.ifname, fd)
    finally:
        os.close(fd)


def blackhole(mux: MuxSpec) -> None:
    """The MUX dies: an XDP_DROP program takes its NIC, so VIP traffic, BFD
    and BGP all vanish there without a word (the ToR's BFD must notice). Not
    a link-down: the emulated bridge would then flood the MUX's frames to
    the other MUXes, which would serve them, hiding the outage."""
    root = loader.pin_root(mux.lab) / mux.name
    prog = root / "drop_all"
    pinned = (loader.Pinned(prog, root / "drop_all_maps") if prog.exists()
              else loader.load(build.simple_object("XDP_DROP"), root, "drop_all"))
    _attach_pinned(mux, pinned)


def revive(mux: MuxSpec) -> None:
    """The MUX's own program back on its NIC."""
    root = loader.pin_root(mux.lab) / mux.name
    _attach_pinned(mux, loader.Pinned(root / "lb", root / "lb_maps"))


class NewFlows(threading.Thread):
    """New connections every few ms while a MUX fails: the last one that
    failed started this long after the failure, so new flows had nowhere to
    go for that long (each one gives up after 0.5 s: no SYN retransmission)."""

    def __init__(self, namespace: str, vip: str, port: int, budget_s: float):
        super().__init__(daemon=True)
        self.args_ = (namespace, vip, port)
        self.deadline = time.monotonic() + budget_s
        self.stop = threading.Event()
        self.samples: list[tuple[float, bool]] = []

    def run(self) -> None:
        while not self.stop.is_set() and time.monotonic() < self.deadline:
            started = time.monotonic()  # a flow is stamped when it starts, not when it gives up
            answer, _ = traffic.one_shot(*self.args_, timeout=0.5)
            self.samples.append((started, not answer.startswith("error")))
            self.stop.wait(0.02)

    def outage_after(self, since: float) -> float | None:
        """Seconds from `since` to the last failure (0: none failed; None: none succeeded after)."""
        after = [(t, ok) for t, ok in self.samples if t >= since]
        fails = [t for t, ok in after if not ok]
        if not fails:
            return 0.0
        return fails[-1] - since if any(ok for t, ok in after if t > fails[-1]) else None


def judge_mux_failover(outage: float | None, rerouted: float | None, spec_s: float, pct: float,
                       moved_pct: float, stalled: int, broken_before: int, back: float | None,
                       takes_again: bool, host: HostLoad) -> tuple[str, str]:
    """(verdict, why); pure, so every branch is tested. Flows that changed
    backend (or were reset by another one) fail whatever the load; what a
    starved client or routing daemon can cause is inconclusive on a busy host."""
    if pct > moved_pct:
        return "fail", f"{pct:.1f} % of established flows changed backend (at most {moved_pct:g} %)"
    problems = []
    if outage is None or outage > spec_s:
        problems.append(f"new flows failed for {secs(outage)} (spec {spec_s:.2f} s; the ToR rerouted "
                        f"after {secs(rerouted)})")
    if stalled or broken_before:
        problems.append(f"{stalled + broken_before} established flow(s) did not answer in time")
    if back is None or not takes_again:
        problems.append("the MUX did not come back into service")
    if not problems:
        return "pass", ""
    if host.busy:
        return "inconclusive", (f"{'; '.join(problems)}; inconclusive: {host.describe()}, so the client, "
                                "BFD or the routing daemons may have been starved")
    return "fail", f"{'; '.join(problems)} on a host that was not busy ({host.describe()})"


def check_mux_failover(lab: str, lb_name: str, flows: int = 200, spec_s: float = 1.0,
                       moved_pct: float = 1.0) -> CheckResult:
    """Open `flows` connections (spread over the MUXes in service), kill the
    one carrying most of them (`blackhole`: BFD must notice), and measure: how long new flows failed
    (and when the ToR's route dropped the MUX), whether the established ones
    still answer and how many changed backend; then bring it back and see it
    take new flows again. Host pressure is measured throughout (see
    judge_mux_failover)."""
    name, t0 = "lb.mux_pool.failover", time.monotonic()
    target = pool_target(lab, lb_name)
    if isinstance(target, str):
        return skipped(name, target)
    muxes, lb, port = target
    client = client_ns(lab)
    vip = next(f.vip for f in lb.frontends if f.port == port)
    with traffic.echo_backends(lb.backends, lab, traffic.echo_ports(lb)), probing(lab, muxes[0].name, lb.name):
        wait_healthy(lab, muxes[0].name, lb)
        pool = serving_pool(muxes, lb_name, vip)
        if isinstance(pool, str):
            return skipped(name, pool)
        opened = {m.name: _new_flows(lab, m.name) for m in pool}
        conns = [traffic.Conn(client, vip, port, timeout=3.0) for _ in range(flows)]
        before = [c.ask() for c in conns]
        carried = {m.name: _new_flows(lab, m.name) - opened[m.name] for m in pool}
        # the MUX that carries most of the flows fails: losing one that carries
        # none (an ECMP hash that favours one path) would measure nothing
        victim = max(pool, key=lambda m: carried[m.name])
        rest = {m.underlay_ip for m in pool if m is not victim}
        via_victim = opened[victim.name] + carried[victim.name]
        with host_load.measuring() as load:
            watcher = NewFlows(client, vip, port, budget_s=10 * spec_s + 10)
            watcher.start()
            time.sleep(0.3)
            failed_at = time.monotonic()
            blackhole(victim)
            try:
                rerouted = wait_for(lambda: tor_nexthops(lab, victim.tor_namespace, vip) == rest, 10.0, 0.02)
                time.sleep(max(0.0, spec_s - (time.monotonic() - failed_at)) + 0.5)
                after = [c.ask() for c in conns]
            finally:
                revive(victim)
                watcher.stop.set()
                watcher.join(timeout=5)
            outage = watcher.outage_after(failed_at)
            for c in conns:
                c.close()
            back = wait_for(lambda: tor_nexthops(lab, victim.tor_namespace, vip) == rest | {victim.underlay_ip},
                            30.0, 0.1)
            traffic.many(client, vip, port, 40, 20.0)
            takes_again = _new_flows(lab, victim.name) > via_victim
    host = load.result
    assert host is not None
    # a TCP flow that lands on another backend is reset by it: broken counts as
    # moved; one that got no answer in time may only have been starved
    stalled = sum(1 for a in after if is_timeout(a))
    errors = sum(1 for a in after if a.startswith("error") and not is_timeout(a))
    moved = sum(1 for a, b in zip(before, after, strict=True) if a != b and not is_timeout(b))
    pct = 100.0 * moved / max(1, len(after))
    broken_before = sum(1 for a in before if a.startswith("error"))
    verdict, why = judge_mux_failover(outage, rerouted, spec_s, pct, moved_pct, stalled, broken_before,
                                      back, takes_again, host)
    measured = (f"{lb_name}: {victim.name} down: ToR rerouted after {secs(rerouted)}, new flows failed for "
                f"{secs(outage)}; established: {moved}/{len(after)} changed backend ({pct:.1f} %), "
                f"{errors} of them reset" + (f", {stalled} unanswered" if stalled else "")
                + f"; {victim.name} back after {secs(back)}, takes new flows: {takes_again}"
                + (f"; {why}" if why else ""))
    return judged(name, f"new flows within {spec_s:.2f} s, <= {moved_pct:g} % of established flows change "
                        "backend, the MUX comes back", measured, verdict, t0, host,
                  {"mux_failover_s": [outage if outage is not None else -1.0], "moved_pct": [pct],
                   "broken_flows": [float(errors)]})
