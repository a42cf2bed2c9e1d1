"""Per-MUX backend failover: a killed backend is avoided by new flows within
the probe window (and the spec), flows on healthy backends stay, and it
comes back into service."""

from __future__ import annotations

import time

from lab.verify.lb import traffic
from lab.verify.lb.common import (
    client_ns,
    load_state,
    probing,
    result,
    secs,
    skipped,
    tcp_target,
    wait_for,
    wait_healthy,
)
from lab.verify.result import CheckResult


def check_failover(lab: str, mux: str, flows: int = 60, spec_s: float | None = None) -> CheckResult:
    """Kill one backend: new flows avoid it within 3 probe intervals (and
    within the topology's failover spec, `spec_s`), flows on healthy backends
    stay where they are, and it comes back when healthy."""
    name, t0 = f"lb.{mux}.failover", time.monotonic()
    target = tcp_target(lab, mux)
    if isinstance(target, str):
        return skipped(name, target)
    lb, fe, port = target
    victim = lb.backends[0]
    window = 3 * lb.probe.interval_s if spec_s is None else min(3 * lb.probe.interval_s, spec_s)
    client = client_ns(lab)

    def healthy(want: bool) -> bool:
        return load_state(lab, mux).backend(lb.name, victim.name).healthy == want

    def avoided() -> bool:
        return all(traffic.one_shot(client, fe.vip, port, 0.5)[0] != victim.name for _ in range(20))

    def down_elsewhere(was_up: set[tuple[str, str]]) -> list[str]:
        state = load_state(lab, mux)
        return sorted(f"{b.lb}/{b.name}" for b in state.backends if (b.lb, b.name) in was_up and not b.healthy)

    with (traffic.echo_backends(lb.backends, lab, traffic.echo_ports(lb)) as procs,
          probing(lab, mux, lb.name) as probe_errors):
        wait_healthy(lab, mux, lb)
        was_up = {(b.lb, b.name) for b in load_state(lab, mux).backends if b.healthy}
        conns = [traffic.Conn(client, fe.vip, port, timeout=1.0) for _ in range(flows)]
        before = [c.ask() for c in conns]
        traffic.stop_echo(procs.pop(victim.name))
        killed = time.monotonic()
        down_after = wait_for(lambda: not healthy(True), 4 * window)
        avoid_after = time.monotonic() - killed if down_after is not None and avoided() else None
        after = [c.ask() for c in conns]
        for c in conns:
            c.close()
        procs[victim.name] = traffic.start_echo(victim, lab, traffic.echo_ports(lb))
        back_after = wait_for(lambda: healthy(True), 4 * window)
        back_used = back_after is not None and wait_for(
            lambda: any(traffic.one_shot(client, fe.vip, port, 0.5)[0] == victim.name
                        for _ in range(20)), window) is not None
        # the victim may back other LBs too, whose probes saw it die: probe on
        # until they have it back, so the check leaves the lab as it found it
        wait_for(lambda: not down_elsewhere(was_up), 4 * window)
        left_down = down_elsewhere(was_up)
    on_healthy = [(a, b) for a, b in zip(before, after, strict=True) if a != victim.name]
    moved = sum(1 for a, b in on_healthy if a != b)
    frac = moved / max(1, len(on_healthy))
    ok = (avoid_after is not None and avoid_after <= window and on_healthy and moved == 0 and back_used)
    measured = (f"new flows avoid {victim.name} after {secs(avoid_after)} (window {window:.2f} s); "
                f"{moved}/{len(on_healthy)} healthy flows moved; "
                f"back in service: {back_used} after {secs(back_after)}"
                + (f"; probe errors: {probe_errors[:3]}" if probe_errors else "")
                + (f"; still down afterwards: {left_down}" if left_down else ""))
    return result(name, f"avoided within {window:.2f} s, 0 healthy flows moved, comes back",
                   measured, ok, t0, metrics={"failover_s": [avoid_after or -1.0],
                                              "healthy_moved_fraction": [frac]})
