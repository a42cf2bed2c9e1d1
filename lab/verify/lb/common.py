"""What the LB checks share: naming and result helpers, the frontend a
per-MUX check measures, the probe loop a check runs when the lab's probe
daemon does not, and bounded waits for the pool to become healthy."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from lab.lb import probed
from lab.lb.lifecycle import _daemon_pid
from lab.lb.state import load_state, muxes_of
from lab.plan.lb_model import FrontendSpec, LbSpec, MuxSpec
from lab.plan.naming import namespace_for
from lab.plan.planner import CLIENT
from lab.verify.lb import routing, traffic
from lab.verify.result import CheckResult

GROUP = "lb"
_PROBED_HERE: set[tuple[str, str]] = set()  # (lab, lb) a `probing` loop of this process probes


def client_ns(lab: str) -> str:
    return namespace_for(lab, CLIENT)


def frontend(mux: MuxSpec, ha: bool) -> tuple[LbSpec, FrontendSpec] | None:
    for lb in mux.lbs:
        for fe in lb.frontends:
            if (fe.port == 0) == ha and (ha or fe.protocol == "tcp"):
                return lb, fe
    return None


def tcp_target(lab: str, mux: str) -> tuple[LbSpec, FrontendSpec, int] | str:
    """The MUX's first TCP frontend and the port to connect to (an HA-ports
    rule carries TCP on every port, so it serves when there is no TCP rule),
    or why there is none."""
    if mux not in muxes_of(lab):
        return f"no load balancer installed on {mux}"
    spec = load_state(lab, mux).spec
    found = frontend(spec, ha=False)
    if found:
        return (*found, found[1].port)
    found = frontend(spec, ha=True)
    return (*found, traffic.ECHO_TCP[0]) if found else f"no TCP or HA-ports frontend on {mux}"


def result(name: str, target: str, measured: str, ok: bool, t0: float, evidence: str = "",
            metrics: dict[str, list[float]] | None = None) -> CheckResult:
    return CheckResult(name=name, group=GROUP, target=target, measured=measured,
                       verdict="pass" if ok else "fail", evidence=evidence,
                       metrics=metrics or {}, duration_s=round(time.monotonic() - t0, 3))


def skipped(name: str, why: str) -> CheckResult:
    return CheckResult(name=name, group=GROUP, target="-", measured=why, verdict="skipped")



@contextmanager
def probing(lab: str, mux: str, lb: str) -> Iterator[list[str]]:
    """The lab's probe daemon if it runs; else probe rounds of this LB only
    (on every MUX that carries it) in a thread here (probing the others would
    take their backends, idle between checks, out of their rings). Yields the errors the rounds hit (a
    failed round must not end probing)."""
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
                probed.probe_round(lab, verdicts, due, only=(None, lb))
            except Exception as exc:  # reported in the check's result
                errors.append(f"{exc.__class__.__name__}: {exc}")
            stop.wait(probed.TICK_S)

    t = threading.Thread(target=loop, name="lb-probes", daemon=True)
    t.start()
    _PROBED_HERE.add((lab, lb))
    try:
        yield errors
    finally:
        _PROBED_HERE.discard((lab, lb))
        stop.set()
        t.join(timeout=10)


def pool(lab: str, mux: str, lb: LbSpec) -> dict[str, tuple[bool, int]]:
    """Each backend's health and its count of health changes, as the probes left them."""
    state = load_state(lab, mux)
    return {b.name: (bs.healthy, bs.flips) if (bs := state.backend(lb.name, b.name)) else (False, 0)
            for b in lb.backends}


def pool_changes(before: dict[str, tuple[bool, int]], after: dict[str, tuple[bool, int]]) -> list[str]:
    """Backends not healthy throughout: the spread then measures the probes, not the hash."""
    return sorted(name for name, (healthy, flips) in before.items()
                  if not healthy or after[name] != (True, flips))


def wait_healthy(lab: str, mux: str, lb: LbSpec) -> None:
    """The backends' services were just started: wait (bounded) until the
    probes have put every backend back in the ring, so the traffic measures
    the balancer, not the probes' reaction time. Without the lab's probe
    daemon (and no `probing` loop of the caller's) nothing else would probe:
    the wait then runs this LB's probe rounds itself, so the MUXes announce
    its VIPs again (advertisement follows health) before traffic starts."""

    muxes = carriers(lab, lb.name) or [mux]
    probe_here = (lab, lb.name) not in _PROBED_HERE and not _daemon_pid(lab)
    verdicts: dict = {}
    due: dict = {}

    def healthy() -> bool:
        if probe_here:
            probed.probe_round(lab, verdicts, due, only=(None, lb.name))
        return all(all((b := state.backend(lb.name, x.name)) is not None and b.healthy for x in lb.backends)
                   for state in (load_state(lab, m) for m in muxes))

    wait_for(healthy, timeout=lb.probe.interval_s * (lb.probe.threshold + 4) + 5.0)
    specs = [load_state(lab, m).spec for m in muxes]
    if all(s.bgp is not None for s in specs):  # and the ToR has every MUX as a next hop again
        want = {s.underlay_ip for s in specs}
        wait_for(lambda: all(routing.tor_nexthops(lab, specs[0].tor_namespace, fe.vip) == want
                             for fe in lb.frontends), timeout=10.0)


def carriers(lab: str, lb: str) -> list[str]:
    """The installed MUXes that carry load balancer `lb`."""
    return [m for m in muxes_of(lab) if any(x.name == lb for x in load_state(lab, m).spec.lbs)]


def wait_for(predicate, timeout: float, step: float = 0.05) -> float | None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if predicate():
            return time.monotonic() - t0
        time.sleep(step)
    return None



def secs(value: float | None) -> str:
    return "never" if value is None else f"{value:.2f} s"
