"""The probe daemon of one lab: `python -m lab.lb.probed <lab>`.

Each round re-reads the MUX states (so backends added at run time are
probed), probes every backend whose interval has come, records the result,
flips health through the controller, and keeps every MUX's BGP
announcements in step (lab.lb.advertise). Started by `lab up` (lifecycle),
stopped by `lab down`; SIGTERM ends it cleanly.
"""

from __future__ import annotations

import signal
import sys
import time
from datetime import UTC, datetime

from lab.lb import advertise
from lab.lb.control import with_controller
from lab.lb.health import Verdict, probe_once
from lab.lb.state import load_state, muxes_of

TICK_S = 0.1


def probe_round(lab: str, verdicts: dict[tuple[str, str, str], Verdict],
                due: dict[tuple[str, str], float], only: tuple[str | None, str] | None = None) -> None:
    """One round over every LB of the lab, or only the (mux, lb) a check
    measures (mux None: that LB on every MUX that carries it)."""
    now = time.monotonic()
    for mux in muxes_of(lab):
        for lb in load_state(lab, mux).spec.lbs:
            if only is not None and (only[0] or mux, only[1]) != (mux, lb.name):
                continue
            if due.get((mux, lb.name), 0.0) > now:
                continue
            due[(mux, lb.name)] = now + lb.probe.interval_s
            results = {b.name: probe_once(lb.gateway_namespace, b.address, lb.probe)
                       for b in lb.backends}
            stamp = datetime.now(UTC).isoformat(timespec="seconds")
            with with_controller(lab, mux) as ctl:
                for name, ok in results.items():
                    bs = ctl.state.backend(lb.name, name)
                    if bs is None:  # removed while it was probed
                        continue
                    v = verdicts.setdefault((mux, lb.name, name), Verdict())
                    v.healthy = bs.healthy  # someone else may have set it (an operator, a check)
                    if v.observe(ok, lb.probe.threshold):
                        ctl.set_health(lb.name, name, v.healthy)
                    bs.probe_failures, bs.probe_successes = v.failures, v.successes
                    bs.last_probe = f"{'ok' if ok else 'fail'} {stamp}"
    advertise.sync_lab(lab)  # a program detached outside the controller is noticed here


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m lab.lb.probed <lab>", file=sys.stderr)
        return 2
    lab = argv[0]
    running = True

    def stop(*_: object) -> None:
        nonlocal running
        running = False

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    verdicts: dict[tuple[str, str, str], Verdict] = {}
    due: dict[tuple[str, str], float] = {}
    while running and muxes_of(lab):
        try:
            probe_round(lab, verdicts, due)
        except Exception as exc:  # keep probing; the log tells why a round failed
            print(f"probe round failed: {exc!r}", file=sys.stderr, flush=True)
        time.sleep(TICK_S)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
