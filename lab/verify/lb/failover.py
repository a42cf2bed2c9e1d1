"""Per-MUX backend failover: a killed backend is avoided by new flows within
the probe window (and the spec), flows on healthy backends stay, and it
comes back into service.

The failover time is when the control plane took the backend out (its state
turns unhealthy, polled every 20 ms), with the time of each failed probe
that led there; new flows are then sent to prove the datapath honours it,
but their round trips are not part of the time: on a busy host a client's
own connections are slow, and that says nothing about the balancer.

On a busy host (lab.compute.host_load: CPU or I/O pressure over the
measurement) the probe daemon itself may be starved, so a late take-out
is `inconclusive`, with the pressure measured, never a pass. What load
cannot cause stays a failure: probe settings that cannot meet the window,
a datapath still sending new flows to the dead backend, a healthy flow
moved to another backend.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from lab.compute import host_load
from lab.compute.host_load import HostLoad
from lab.verify.lb import traffic
from lab.verify.lb.common import (
    GROUP,
    client_ns,
    load_state,
    probing,
    secs,
    skipped,
    tcp_target,
    wait_for,
    wait_healthy,
)
from lab.verify.result import CheckResult

POLL_S = 0.02


@dataclass
class TakeOut:
    """When (seconds after the kill) each failed probe of the victim was
    recorded, and when it was taken out of the rings (None: not in time)."""

    failed_probes: list[float] = field(default_factory=list)
    out_after: float | None = None

    def describe(self) -> str:
        probes = ", ".join(f"{t:.2f}" for t in self.failed_probes[:6]) or "none"
        return f"failed probes at {probes} s, taken out after {secs(self.out_after)}"


def watch_take_out(lab: str, mux: str, lb: str, backend: str, since: float, timeout: float) -> TakeOut:
    seen, out = 0, TakeOut()
    while (now := time.monotonic() - since) < timeout:
        state = load_state(lab, mux).backend(lb, backend)
        if state is not None:
            out.failed_probes += [round(now, 3)] * max(0, state.probe_failures - seen)
            seen = max(seen, state.probe_failures)
            if not state.healthy:
                out.out_after = now
                return out
        time.sleep(POLL_S)
    return out


def is_timeout(answer: str) -> bool:
    """A client's question that got no answer in time (load can do that); a
    reset or another backend's name is an answer."""
    return answer in ("error: TimeoutError", "error: timeout")


def judged(name: str, target: str, measured: str, verdict: str, t0: float, host: HostLoad | None,
           metrics: dict[str, list[float]]) -> CheckResult:
    return CheckResult(name=name, group=GROUP, target=target, measured=measured, verdict=verdict,
                       metrics=metrics | (host.to_metrics() if host is not None else {}),
                       duration_s=round(time.monotonic() - t0, 3))


def judge_failover(take_out: TakeOut, window: float, floor_s: float, avoided: bool, moved: int,
                   stalled: int, back_used: bool, host: HostLoad) -> tuple[str, str]:
    """(verdict, why) from what was measured; pure, so every branch is tested."""
    if floor_s >= window:
        return "fail", (f"the probes cannot take a backend out within {window:.2f} s: "
                        f"{floor_s:.2f} s between the first and the deciding failed probe")
    if take_out.out_after is not None and not avoided:
        return "fail", "taken out, yet new flows still reached it: the datapath ignores the health"
    if moved:
        return "fail", f"{moved} flow(s) on healthy backends moved"
    late = take_out.out_after is None or take_out.out_after > window
    if not late and not stalled and back_used:
        return "pass", ""
    what = "taken out late" if late else ("not back in service" if not back_used else
                                          f"{stalled} healthy flow(s) did not answer in time")
    if host.busy:
        return "inconclusive", f"{what}; inconclusive: {host.describe()}, so the probes may have been starved"
    return "fail", f"{what} on a host that was not busy ({host.describe()})"


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
        with host_load.measuring() as load:
            traffic.stop_echo(procs.pop(victim.name))
            take_out = watch_take_out(lab, mux, lb.name, victim.name, time.monotonic(), 4 * window)
            avoided_ok = take_out.out_after is not None and avoided()
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
    host = load.result
    assert host is not None
    on_healthy = [(a, b) for a, b in zip(before, after, strict=True) if a != victim.name]
    stalled = sum(1 for _, b in on_healthy if is_timeout(b))
    moved = sum(1 for a, b in on_healthy if a != b and not is_timeout(b))
    frac = moved / max(1, len(on_healthy))
    floor = (lb.probe.threshold - 1) * lb.probe.interval_s
    verdict, why = judge_failover(take_out, window, floor, avoided_ok, moved, stalled, back_used, host)
    if not on_healthy:
        verdict, why = "fail", "no flow landed on a healthy backend: nothing to compare"
    measured = (f"{victim.name}: {take_out.describe()} (window {window:.2f} s); new flows avoid it: "
                f"{avoided_ok}; {moved}/{len(on_healthy)} healthy flows moved"
                + (f", {stalled} unanswered" if stalled else "")
                + f"; back in service: {back_used} after {secs(back_after)}"
                + (f"; probe errors: {probe_errors[:3]}" if probe_errors else "")
                + (f"; still down afterwards: {left_down}" if left_down else "")
                + (f"; {why}" if why else ""))
    return judged(name, f"avoided within {window:.2f} s, 0 healthy flows moved, comes back", measured,
                  verdict, t0, host, {"failover_s": [take_out.out_after if take_out.out_after is not None else -1.0],
                                      "healthy_moved_fraction": [frac]})
