"""The LB failover checks' verdicts on a busy host (lab.verify.lb.failover,
lab.verify.lb.muxpool): a late failover is `inconclusive`, with the pressure,
only when the host was busy; what load cannot cause fails either way; nothing
late ever passes. The live checks run in tests/lb; these pin the judgement."""

from __future__ import annotations

import pytest

from lab.compute.host_load import HostLoad
from lab.verify.lb.failover import TakeOut, judge_failover
from lab.verify.lb.muxpool import judge_mux_failover

IDLE = HostLoad(5.0, cpu_pct=3.0, io_pct=1.0)
BUSY = HostLoad(5.0, cpu_pct=64.0, io_pct=12.0)
ON_TIME = TakeOut([0.41, 0.92], 0.93)
LATE = TakeOut([0.9, 2.7], 3.3)  # probe rounds slipped
NEVER = TakeOut([1.2], None)


def _failover(take_out=ON_TIME, host=IDLE, floor=0.5, avoided=True, moved=0, stalled=0, back=True):
    return judge_failover(take_out, 1.5, floor, avoided, moved, stalled, back, host)


def test_on_time_passes_busy_or_not():
    assert _failover() == ("pass", "")
    assert _failover(host=BUSY) == ("pass", "")


@pytest.mark.parametrize("take_out", [LATE, NEVER])
def test_late_take_out_fails_on_an_idle_host_and_is_inconclusive_on_a_busy_one(take_out):
    verdict, why = _failover(take_out)
    assert verdict == "fail" and "not busy" in why and "CPU pressure 3%" in why
    verdict, why = _failover(take_out, BUSY)
    assert verdict == "inconclusive" and "CPU pressure 64%" in why and "I/O pressure 12%" in why


def test_unanswered_healthy_flows_or_no_comeback_are_load_on_a_busy_host_only():
    assert _failover(stalled=2)[0] == "fail"
    assert _failover(stalled=2, host=BUSY)[0] == "inconclusive"
    assert _failover(back=False)[0] == "fail"
    assert _failover(back=False, host=BUSY)[0] == "inconclusive"


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"floor": 1.5}, "cannot take a backend out"),  # threshold x interval beyond the window
    ({"avoided": False}, "datapath ignores the health"),
    ({"moved": 3}, "3 flow(s) on healthy backends moved"),
])
def test_what_load_cannot_cause_fails_even_on_a_busy_host(kwargs, words):
    verdict, why = _failover(host=BUSY, **kwargs)
    assert verdict == "fail" and words in why


def _mux(outage=0.4, host=IDLE, pct=0.0, stalled=0, before=0, back=2.0, takes=True):
    return judge_mux_failover(outage, 0.35, 1.0, pct, 1.0, stalled, before, back, takes, host)


def test_mux_failover_on_time_passes_and_moved_flows_always_fail():
    assert _mux() == ("pass", "")
    assert _mux(host=BUSY) == ("pass", "")
    verdict, why = _mux(pct=12.5, host=BUSY)
    assert verdict == "fail" and "12.5 % of established flows" in why


@pytest.mark.parametrize("kwargs", [{"outage": 1.3}, {"outage": None}, {"stalled": 4}, {"before": 1},
                                    {"back": None}, {"takes": False}])
def test_mux_failover_late_or_starved_is_inconclusive_only_when_busy(kwargs):
    verdict, why = _mux(**kwargs)
    assert verdict == "fail" and "not busy" in why
    verdict, why = _mux(host=BUSY, **kwargs)
    assert verdict == "inconclusive" and "CPU pressure 64%" in why
