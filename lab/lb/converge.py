"""Diff, then apply: what the load balancers of a lab need to match the plan.

Each Change carries the action that removes its difference, so `lab up
--dry-run` lists exactly what `lab up` then does. Compared with the plan:
which MUX datapaths exist (installed, reinstalled when a datapath-level field
or the set of LBs changed, removed when no longer planned), each LB's rules
and backends (changed at run time through the control plane, the program is
not reloaded), the VIP on every namespace backend's loopback, and the probe
daemon.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lab.apply.changes import Change
from lab.lb import hostside, loader
from lab.lb.control import MuxController, uninstall, with_controller
from lab.lb.state import load_state, muxes_of
from lab.plan.lb_model import LbSpec, MuxSpec
from lab.plan.model import Plan

Record = Callable[[str, str], None] | None


def _install(mux: MuxSpec, journal: Any) -> Callable[[], None]:
    def apply() -> None:
        if journal is not None:
            journal.record("bpf-pin", str(loader.pin_root(mux.lab) / mux.name))
        MuxController.install(mux).close()
    return apply


def _label(mux: MuxSpec) -> str:
    return f"{mux.name} on {mux.ifname}: {', '.join(lb.name for lb in mux.lbs)}"


def _datapath(spec: MuxSpec) -> dict:
    """What only a (re)install changes: the MUX itself and its set of LBs with
    their LB-level settings (ring area sizes, probes)."""
    data = spec.model_dump(exclude={"lbs"})
    data["lbs"] = sorted((lb.name, lb.tenant, lb.gateway_namespace, lb.ring_size,
                          lb.probe.model_dump_json()) for lb in spec.lbs)
    return data


def diff_muxes(plan: Plan, journal: Any = None) -> list[Change]:
    lab, installed = plan.lab, set(muxes_of(plan.lab))
    planned = {m.name for m in plan.muxes}
    changes = [Change(name, "delete", "xdp-lb", name, lambda n=name: uninstall(lab, n))
               for name in sorted(installed - planned)]
    for mux in plan.muxes:
        if mux.name not in installed:
            changes.append(Change(mux.name, "create", "xdp-lb", _label(mux), _install(mux, journal)))
            continue
        have = load_state(lab, mux.name).spec
        if _datapath(have) != _datapath(mux):
            def reinstall(m: MuxSpec = mux) -> None:
                uninstall(lab, m.name)
                _install(m, journal)()
            changes.append(Change(mux.name, "update", "xdp-lb", f"{_label(mux)} (reinstalled)", reinstall))
            continue
        for lb in mux.lbs:
            changes += _diff_lb(lab, mux.name, have.lb(lb.name), lb)
    return changes


def _diff_lb(lab: str, mux: str, have: LbSpec, want: LbSpec) -> list[Change]:
    def op(fn: Callable[[MuxController], object]) -> Callable[[], None]:
        def apply() -> None:
            with with_controller(lab, mux) as ctl:
                fn(ctl)
        return apply

    changes = []
    for fe in have.frontends:
        if fe not in want.frontends:
            changes.append(Change(mux, "delete", "lb-rule", f"{want.name} {fe.label()}", op(
                lambda c, f=fe: c.remove_frontend(want.name, f.vip, f.port, f.protocol))))
    for b in have.backends:
        if b not in want.backends:
            changes.append(Change(mux, "delete", "lb-backend", f"{want.name} {b.name}",
                                  op(lambda c, n=b.name: c.remove_backend(want.name, n))))
    for b in want.backends:
        if b not in have.backends:
            changes.append(Change(mux, "create", "lb-backend", f"{want.name} {b.name}",
                                  op(lambda c, x=b: c.add_backend(want.name, x))))
    for fe in want.frontends:
        if fe not in have.frontends:
            changes.append(Change(mux, "create", "lb-rule", f"{want.name} {fe.label()}",
                                  op(lambda c, f=fe: c.add_frontend(want.name, f))))
    return changes


def diff_backend_vips(plan: Plan) -> list[Change]:
    """The VIP on the loopback of every namespace backend of an installed MUX
    (a MUX about to be installed adds them itself)."""
    installed = set(muxes_of(plan.lab))
    changes = []
    for mux in plan.muxes:
        if mux.name not in installed:
            continue
        for lb in mux.lbs:
            for b in lb.backends:
                for vip in sorted({fe.vip for fe in lb.frontends}):
                    if not hostside.has_vip(plan.lab, b, vip):
                        changes.append(Change(b.name, "create", "vip", f"{vip} on lo of {b.namespace}",
                                              lambda x=b, v=vip: hostside.add_vip(plan.lab, x, v)))
    return changes
