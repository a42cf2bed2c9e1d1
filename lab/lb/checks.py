"""Live checks of the load balancer for `lab verify`, each a CheckResult.

Every check brings its own echo backends (in the netns endpoints) and drives
traffic from the client namespace; none leaves anything running.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from scipy.stats import chisquare

from lab.apply.nsexec import popen_in_namespace
from lab.lb import probed, traffic
from lab.lb.control import MuxController, with_controller
from lab.lb.lifecycle import _daemon_pid
from lab.lb.state import load_state, muxes_of
from lab.plan.lb_model import FrontendSpec, LbSpec, MuxSpec
from lab.verify.result import CheckResult

GROUP = "lb"
# the spread is measured again (once) when a backend left the pool or flapped during the run
DSR_RETRIES = 1


def _client_ns(lab: str) -> str:
    return f"{lab}.client"


def _frontend(mux: MuxSpec, ha: bool) -> tuple[LbSpec, FrontendSpec] | None:
    for lb in mux.lbs:
        for fe in lb.frontends:
            if (fe.port == 0) == ha and (ha or fe.protocol == "tcp"):
                return lb, fe
    return None


def _tcp_target(lab: str, mux: str) -> tuple[LbSpec, FrontendSpec, int] | str:
    """The MUX's first TCP frontend and the port to connect to (an HA-ports
    rule carries TCP on every port, so it serves when there is no TCP rule),
    or why there is none."""
    if mux not in muxes_of(lab):
        return f"no load balancer installed on {mux}"
    spec = load_state(lab, mux).spec
    found = _frontend(spec, ha=False)
    if found:
        return (*found, found[1].port)
    found = _frontend(spec, ha=True)
    return (*found, traffic.ECHO_TCP[0]) if found else f"no TCP or HA-ports frontend on {mux}"


def _result(name: str, target: str, measured: str, ok: bool, t0: float, evidence: str = "",
            metrics: dict[str, list[float]] | None = None) -> CheckResult:
    return CheckResult(name=name, group=GROUP, target=target, measured=measured,
                       verdict="pass" if ok else "fail", evidence=evidence,
                       metrics=metrics or {}, duration_s=round(time.monotonic() - t0, 3))


def _skipped(name: str, why: str) -> CheckResult:
    return CheckResult(name=name, group=GROUP, target="-", measured=why, verdict="skipped")


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
    target = _tcp_target(lab, mux)
    if isinstance(target, str):
        return _skipped(name, target)
    lb, fe, port = target
    with MuxController.open(lab, mux) as ctl:
        spec, before = ctl.spec, ctl.maps.global_counters()
        with (traffic.echo_backends(lb.backends, lab, traffic.echo_ports(lb)),
              _capture_src(spec.namespace, spec.ifname, fe.vip) as seen):
            runs, unstable = 0, ["not measured"]
            while unstable and runs <= DSR_RETRIES:
                runs += 1
                _wait_healthy(lab, mux, lb)
                pool = _pool(lab, mux, lb)
                results = traffic.many(_client_ns(lab), fe.vip, port, connections, budget_s)
                unstable = _pool_changes(pool, _pool(lab, mux, lb))
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
    return _result(name, f"{connections} conns ok, replies from VIP, 0 return pkts at MUX, p>{p_min}",
                   measured, ok, t0, evidence=", ".join(f"{k}={v}" for k, v in names.items()),
                   metrics={"chi_square_p": [p], "connections_ok": [ok_conns],
                            **{f"backend_flows:{b}": [float(n)] for b, n in spread.items()}})


def check_ha_ports(lab: str, mux: str) -> CheckResult:
    """An HA-ports VIP forwards arbitrary TCP ports and UDP."""
    name, t0 = f"lb.{mux}.ha_ports", time.monotonic()
    spec = load_state(lab, mux).spec if mux in muxes_of(lab) else None
    found = _frontend(spec, ha=True) if spec else None
    if found is None:
        return _skipped(name, f"no HA-ports frontend on {mux}")
    lb, fe = found
    with traffic.echo_backends(lb.backends, lab, traffic.echo_ports(lb)):
        _wait_healthy(lab, mux, lb)
        tcp = {port: traffic.one_shot(_client_ns(lab), fe.vip, port)[0] for port in traffic.ECHO_TCP}
        udp = {port: traffic.udp_ask(_client_ns(lab), fe.vip, port) for port in traffic.ECHO_UDP}
    names = {b.name for b in lb.backends}
    ok = all(v in names for v in [*tcp.values(), *udp.values()])
    return _result(name, f"TCP {list(tcp)} and UDP {list(udp)} to {fe.vip} answered",
                   f"tcp {tcp}; udp {udp}", ok, t0)


def check_affinity(lab: str, mux: str, flows: int = 120) -> CheckResult:
    """Open flows keep their backend when the ring changes (one backend taken
    out of the ring: its established flows stay too, as with failed probes)."""
    name, t0 = f"lb.{mux}.flow_affinity", time.monotonic()
    target = _tcp_target(lab, mux)
    if isinstance(target, str):
        return _skipped(name, target)
    lb, fe, port = target
    victim = lb.backends[0].name
    goal = "0 of the open flows change backend when the ring changes"
    conns: list[traffic.Conn] = []
    with traffic.echo_backends(lb.backends, lab, traffic.echo_ports(lb)):
        _wait_healthy(lab, mux, lb)
        try:
            for _ in range(flows):
                try:
                    conns.append(traffic.Conn(_client_ns(lab), fe.vip, port, timeout=1.0))
                except OSError as exc:
                    return _result(name, goal, f"connection {len(conns) + 1}/{flows} to {fe.vip}:{port} "
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
    return _result(name, goal, f"{moved}/{len(first)} flows moved after taking {victim} out of the ring",
                   ok, t0, metrics={"moved_fraction": [moved / max(1, len(first))]})


@contextmanager
def _probing(lab: str) -> Iterator[list[str]]:
    """The lab's probe daemon if it runs; else probe rounds in a thread here.
    Yields the errors the rounds hit (a failed round must not end probing)."""
    errors: list[str] = []
    if _daemon_pid(lab):
        yield errors
        return
    stop = threading.Event()
    verdicts: dict = {}
    due: dict = {}

    def loop() -> None:
        while not stop.is_set():
            try:
                probed.probe_round(lab, verdicts, due)
            except Exception as exc:  # reported in the check's result
                errors.append(f"{exc.__class__.__name__}: {exc}")
            stop.wait(probed.TICK_S)

    t = threading.Thread(target=loop, name="lb-probes", daemon=True)
    t.start()
    try:
        yield errors
    finally:
        stop.set()
        t.join(timeout=10)


def _pool(lab: str, mux: str, lb: LbSpec) -> dict[str, tuple[bool, int]]:
    """Each backend's health and its count of health changes, as the probes left them."""
    state = load_state(lab, mux)
    return {b.name: (bs.healthy, bs.flips) if (bs := state.backend(lb.name, b.name)) else (False, 0)
            for b in lb.backends}


def _pool_changes(before: dict[str, tuple[bool, int]], after: dict[str, tuple[bool, int]]) -> list[str]:
    """Backends not healthy throughout: the spread then measures the probes, not the hash."""
    return sorted(name for name, (healthy, flips) in before.items()
                  if not healthy or after[name] != (True, flips))


def _wait_healthy(lab: str, mux: str, lb: LbSpec) -> None:
    """The backends' services were just started: wait (bounded) until the
    probes have put every backend back in the ring, so the traffic measures
    the balancer, not the probes' reaction time."""

    def healthy() -> bool:
        state = load_state(lab, mux)
        return all((b := state.backend(lb.name, x.name)) is not None and b.healthy for x in lb.backends)

    _wait_for(healthy, timeout=lb.probe.interval_s * (lb.probe.threshold + 4) + 5.0)


def _wait_for(predicate, timeout: float, step: float = 0.05) -> float | None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if predicate():
            return time.monotonic() - t0
        time.sleep(step)
    return None


def check_failover(lab: str, mux: str, flows: int = 60, spec_s: float | None = None) -> CheckResult:
    """Kill one backend: new flows avoid it within 3 probe intervals (and
    within the topology's failover spec, `spec_s`), flows on healthy backends
    stay where they are, and it comes back when healthy."""
    name, t0 = f"lb.{mux}.failover", time.monotonic()
    target = _tcp_target(lab, mux)
    if isinstance(target, str):
        return _skipped(name, target)
    lb, fe, port = target
    victim = lb.backends[0]
    window = 3 * lb.probe.interval_s if spec_s is None else min(3 * lb.probe.interval_s, spec_s)
    client = _client_ns(lab)

    def healthy(want: bool) -> bool:
        return load_state(lab, mux).backend(lb.name, victim.name).healthy == want

    def avoided() -> bool:
        return all(traffic.one_shot(client, fe.vip, port, 0.5)[0] != victim.name for _ in range(20))

    def down_elsewhere(was_up: set[tuple[str, str]]) -> list[str]:
        state = load_state(lab, mux)
        return sorted(f"{b.lb}/{b.name}" for b in state.backends if (b.lb, b.name) in was_up and not b.healthy)

    with traffic.echo_backends(lb.backends, lab, traffic.echo_ports(lb)) as procs, _probing(lab) as probe_errors:
        _wait_healthy(lab, mux, lb)
        was_up = {(b.lb, b.name) for b in load_state(lab, mux).backends if b.healthy}
        conns = [traffic.Conn(client, fe.vip, port, timeout=1.0) for _ in range(flows)]
        before = [c.ask() for c in conns]
        traffic.stop_echo(procs.pop(victim.name))
        killed = time.monotonic()
        down_after = _wait_for(lambda: not healthy(True), 4 * window)
        avoid_after = time.monotonic() - killed if down_after is not None and avoided() else None
        after = [c.ask() for c in conns]
        for c in conns:
            c.close()
        procs[victim.name] = traffic.start_echo(victim, lab, traffic.echo_ports(lb))
        back_after = _wait_for(lambda: healthy(True), 4 * window)
        back_used = back_after is not None and _wait_for(
            lambda: any(traffic.one_shot(client, fe.vip, port, 0.5)[0] == victim.name
                        for _ in range(20)), window) is not None
        # the victim may back other LBs too, whose probes saw it die: probe on
        # until they have it back, so the check leaves the lab as it found it
        _wait_for(lambda: not down_elsewhere(was_up), 4 * window)
        left_down = down_elsewhere(was_up)
    on_healthy = [(a, b) for a, b in zip(before, after, strict=True) if a != victim.name]
    moved = sum(1 for a, b in on_healthy if a != b)
    frac = moved / max(1, len(on_healthy))
    ok = (avoid_after is not None and avoid_after <= window and on_healthy and moved == 0 and back_used)
    measured = (f"new flows avoid {victim.name} after {_secs(avoid_after)} (window {window:.2f} s); "
                f"{moved}/{len(on_healthy)} healthy flows moved; "
                f"back in service: {back_used} after {_secs(back_after)}"
                + (f"; probe errors: {probe_errors[:3]}" if probe_errors else "")
                + (f"; still down afterwards: {left_down}" if left_down else ""))
    return _result(name, f"avoided within {window:.2f} s, 0 healthy flows moved, comes back",
                   measured, ok, t0, metrics={"failover_s": [avoid_after or -1.0],
                                              "healthy_moved_fraction": [frac]})


def _secs(value: float | None) -> str:
    return "never" if value is None else f"{value:.2f} s"


def verify_checks(plan) -> list:
    """The LB group of `lab verify`: the frontends of every MUX, and each
    MUX's datapath behaviours (DSR spread, HA ports, affinity, failover)."""
    from functools import partial

    from lab.verify.runner import named_check

    if not plan.muxes:
        return []
    from lab.lb.frontend_checks import check_frontends, check_no_rule_dropped

    checks = [named_check("lb.frontends", GROUP, partial(check_frontends, plan.lab)),
              named_check("lb.no_rule", GROUP, partial(check_no_rule_dropped, plan.lab))]
    for mux in plan.muxes:
        m = mux.name
        checks += [
            named_check(f"lb.{m}.dsr_distribution", GROUP,
                        partial(check_dsr, plan.lab, m, p_min=plan.specs.lb_chi_square_p)),
            named_check(f"lb.{m}.ha_ports", GROUP, partial(check_ha_ports, plan.lab, m)),
            named_check(f"lb.{m}.flow_affinity", GROUP, partial(check_affinity, plan.lab, m)),
            named_check(f"lb.{m}.failover", GROUP,
                        partial(check_failover, plan.lab, m, spec_s=plan.specs.failover_s)),
        ]
    return checks
