"""The control plane of one MUX: install the datapath, then add and remove
VIPs (frontends) and backends, and apply health, at run time by rewriting
maps -- the program is never reloaded. Katran's KatranLb, in small."""

from __future__ import annotations

import ipaddress
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lab.lb import advertise, build, hostside, loader, maglev
from lab.lb.maps import CFG_F_NO_AFFINITY, PROTOS, BackendEntry, LbMaps, VipRule
from lab.lb.state import (
    BackendState,
    MuxState,
    RuleState,
    load_state,
    locked,
    save_state,
    state_path,
)
from lab.plan.lb_model import BackendSpec, FrontendSpec, LbSpec, MuxSpec, check_vip

RING_HEADROOM = 4 * 65537
MAX_BACKEND_ID = 4095


def mux_root(lab: str, mux: str) -> Path:
    return loader.pin_root(lab) / mux


def _ring_capacity(spec: MuxSpec) -> int:
    needed = sum(lb.ring_size * len(lb.frontends) for lb in spec.lbs)
    return max(2 * needed, needed + RING_HEADROOM)


class MuxController:
    """Open with `install` (fresh) or `open` (running); ops persist the state."""

    def __init__(self, state: MuxState, maps: LbMaps):
        self.state = state
        self.maps = maps

    @property
    def spec(self) -> MuxSpec:
        return self.state.spec

    # ---- lifecycle -------------------------------------------------------
    @classmethod
    def install(cls, spec: MuxSpec) -> MuxController:
        root = mux_root(spec.lab, spec.name)
        loader.remove_root(root)
        slots = ipaddress.IPv4Network(spec.vip_pool).num_addresses
        obj = build.build("lb_xdp.c", {"LB_RING_SLOTS": _ring_capacity(spec), "LB_VIP_SLOTS": slots})
        pinned = loader.load(obj, root, "lb")
        ctl = cls(MuxState(spec=spec.model_copy(update={"lbs": []}), ring_slots=_ring_capacity(spec)),
                  LbMaps(pinned))
        ctl.maps.set_config(spec.underlay_ip, spec.mac, spec.vip_pool, max_frame=spec.max_frame)
        for lb in spec.lbs:
            ctl.add_lb(lb)
        fd = pinned.prog_fd()
        try:
            loader.attach(spec.namespace, spec.ifname, fd)
        finally:
            os.close(fd)
        hostside.attach_tor_pass(spec)
        save_state(ctl.state)
        return ctl

    @classmethod
    def open(cls, lab: str, mux: str) -> MuxController:
        state = load_state(lab, mux)
        return cls(state, LbMaps(loader.Pinned(mux_root(lab, mux) / "lb", mux_root(lab, mux) / "lb_maps")))

    def close(self) -> None:
        self.maps.close()

    def __enter__(self) -> MuxController:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def save(self) -> None:
        save_state(self.state)

    # ---- LBs, frontends, backends ---------------------------------------
    def _lb(self, name: str) -> LbSpec:
        for lb in self.spec.lbs:
            if lb.name == name:
                return lb
        raise KeyError(f"no load balancer '{name}' on {self.spec.name}; have: "
                       f"{', '.join(lb.name for lb in self.spec.lbs) or 'none'}")

    def _put_lb(self, lb: LbSpec) -> None:
        lbs = [x for x in self.spec.lbs if x.name != lb.name] + [lb]
        self.state.spec = self.spec.model_copy(update={"lbs": lbs})

    def add_lb(self, lb: LbSpec) -> None:
        self._put_lb(lb.model_copy(update={"frontends": [], "backends": []}))
        for b in lb.backends:
            self.add_backend(lb.name, b)
        for f in lb.frontends:
            self.add_frontend(lb.name, f)

    def add_frontend(self, lb_name: str, fe: FrontendSpec) -> float:
        """Open VIP:port/protocol; returns the seconds it took."""
        t0 = time.perf_counter()
        lb = self._lb(lb_name)
        check_vip(self.spec, fe.vip)
        self._check_rule_conflicts(fe)
        rule = RuleState(lb_name, fe.vip, fe.port, fe.protocol, self.state.next_vip_id,
                         self.state.alloc_ring(lb.ring_size), lb.ring_size)
        self.state.next_vip_id += 1
        self._write_ring(lb, [rule])  # ring first, then the rule that makes it reachable
        self.state.rules.append(rule)
        self._sync_vip(fe.vip)
        self._put_lb(lb.model_copy(update={"frontends": [*lb.frontends, fe]}))
        for b in lb.backends:
            hostside.add_vip(self.spec.lab, b, fe.vip)
        return time.perf_counter() - t0

    def _check_rule_conflicts(self, fe: FrontendSpec) -> None:
        same = [r for r in self.state.rules if r.vip == fe.vip]
        if any(r.port == fe.port and r.protocol == fe.protocol for r in same):
            raise ValueError(f"conflicting rule: {fe.label()} already exists")
        if same and (fe.port == 0) != (same[0].port == 0):
            raise ValueError(f"ambiguous: VIP {fe.vip} would mix an HA-ports rule with a "
                             "specific port rule; use one kind of rule per VIP")

    def remove_frontend(self, lb_name: str, vip: str, port: int, protocol: str) -> float:
        t0 = time.perf_counter()
        lb = self._lb(lb_name)
        rule = next((r for r in self.state.rules if (r.lb, r.vip, r.port, r.protocol)
                     == (lb_name, vip, port, protocol)), None)
        if rule is None:
            raise KeyError(f"load balancer '{lb_name}' has no frontend {vip}:{port}/{protocol}")
        self.state.rules.remove(rule)
        self._sync_vip(vip)
        self.maps.write_ring(rule.ring_off, [maglev.EMPTY] * rule.ring_size, rule.vip_id)
        self.state.free_rings.append([rule.ring_off, rule.ring_size])
        left = [f for f in lb.frontends if (f.vip, f.port, f.protocol) != (vip, port, protocol)]
        self._put_lb(lb.model_copy(update={"frontends": left}))
        if not any(r.vip == vip for r in self.state.rules):
            for b in lb.backends:
                hostside.remove_vip(self.spec.lab, b, vip)
        return time.perf_counter() - t0

    def add_backend(self, lb_name: str, backend: BackendSpec) -> float:
        t0 = time.perf_counter()
        lb = self._lb(lb_name)
        if self.state.backend(lb_name, backend.name):
            raise ValueError(f"backend '{backend.name}' is already in load balancer '{lb_name}'")
        if self.state.next_backend_id > MAX_BACKEND_ID:
            raise ValueError("backend ids exhausted; reload the load balancer")
        bs = BackendState(lb_name, backend.name, self.state.next_backend_id)
        self.state.next_backend_id += 1
        self.maps.put_backend(bs.id, self._entry(backend))
        self.state.backends.append(bs)
        lb = lb.model_copy(update={"backends": [*lb.backends, backend]})
        self._put_lb(lb)
        for vip in {f.vip for f in lb.frontends}:
            hostside.add_vip(self.spec.lab, backend, vip)
        self._write_ring(lb, self.state.rules_of(lb_name))
        return time.perf_counter() - t0

    def remove_backend(self, lb_name: str, name: str) -> float:
        """Out of the ring first, then invalid: its established flows re-hash."""
        t0 = time.perf_counter()
        lb = self._lb(lb_name)
        bs = self.state.backend(lb_name, name)
        if bs is None:
            raise KeyError(f"load balancer '{lb_name}' has no backend '{name}'")
        self.state.backends.remove(bs)
        spec = next(b for b in lb.backends if b.name == name)
        lb = lb.model_copy(update={"backends": [b for b in lb.backends if b.name != name]})
        self._put_lb(lb)
        self._write_ring(lb, self.state.rules_of(lb_name))
        self.maps.put_backend(bs.id, self._entry(spec, valid=False))
        for vip in {f.vip for f in lb.frontends}:
            hostside.remove_vip(self.spec.lab, spec, vip)
        return time.perf_counter() - t0

    def set_health(self, lb_name: str, name: str, healthy: bool) -> bool:
        """Take a backend out of (or back into) the rings; True if it changed."""
        bs = self.state.backend(lb_name, name)
        if bs is None or bs.healthy == healthy:
            return False
        bs.healthy = healthy
        bs.flips += 1
        self._write_ring(self._lb(lb_name), self.state.rules_of(lb_name))
        return True

    def set_affinity(self, on: bool) -> None:
        flags = self.maps.config_flags()
        self.maps.set_config_flags(flags & ~CFG_F_NO_AFFINITY if on else flags | CFG_F_NO_AFFINITY)
        self.state.affinity = on

    def corrupt_encap(self, lb_name: str, broken: bool) -> None:
        """Fault injection: send to a VNI nobody listens on (or restore)."""
        for b in self._lb(lb_name).backends:
            bs = self.state.backend(lb_name, b.name)
            entry = self._entry(b)
            if broken:
                entry = BackendEntry(entry.underlay_ip, (b.vni + 1) & 0xFFFFFF, entry.mac,
                                     entry.inner_src, entry.next_hop)
            self.maps.put_backend(bs.id, entry)

    def rebuild_rings(self, lb_name: str, leave_out: frozenset[str] | None = None) -> None:
        """Rewrite the LB's rings from its healthy backends. `leave_out`
        (only the ring-diverge fault wants it) builds this MUX's rings from a
        shorter list from now on; an empty set ends that."""
        if leave_out is not None:
            self.state.ring_leave_out[lb_name] = sorted(leave_out)
        self._write_ring(self._lb(lb_name), self.state.rules_of(lb_name))

    # ---- datapath writes -------------------------------------------------
    @staticmethod
    def _entry(b: BackendSpec, valid: bool = True) -> BackendEntry:
        return BackendEntry(b.server_underlay_ip, b.vni, b.mac, b.gateway_mac, b.server_mac, valid)

    def ring_for(self, lb: LbSpec) -> list[int]:
        healthy = {bs.name: bs.id for bs in self.state.backends if bs.lb == lb.name and bs.healthy
                   and bs.name not in self.state.ring_leave_out.get(lb.name, ())}
        return maglev.build_ring(healthy, lb.ring_size)

    def _write_ring(self, lb: LbSpec, rules: list[RuleState]) -> None:
        if not rules:
            return
        ring = self.ring_for(lb)
        for rule in rules:
            self.maps.write_ring(rule.ring_off, ring, rule.vip_id)

    def _sync_vip(self, vip: str) -> None:
        rules = [VipRule(r.port, PROTOS[r.protocol], r.vip_id, r.ring_off, r.ring_size)
                 for r in self.state.rules if r.vip == vip]
        self.maps.set_vip_rules(vip, rules)


def uninstall(lab: str, mux: MuxSpec | str) -> None:
    """Detach both programs, remove every pin and the state file: no residue."""
    name = mux if isinstance(mux, str) else mux.name
    spec = mux if isinstance(mux, MuxSpec) else None
    if spec is None and state_path(lab, name).exists():
        spec = load_state(lab, name).spec
    if spec is not None:
        loader.detach(spec.namespace, spec.ifname)
        loader.detach(spec.tor_namespace, spec.tor_port)
        try:
            hostside.set_tx_checksum(spec.tor_namespace, spec.tor_port, True)
        except (OSError, KeyError):
            pass  # the ToR namespace or link is already gone
    loader.remove_root(mux_root(lab, name))
    state_path(lab, name).unlink(missing_ok=True)


@contextmanager
def with_controller(lab: str, mux: str) -> Iterator[MuxController]:
    """Locked open-modify-save, for CLI ops and the probe daemon; the MUX's
    announcements then follow the new state (lab.lb.advertise)."""
    with locked(lab, mux):
        ctl = MuxController.open(lab, mux)
        try:
            yield ctl
            ctl.save()
            advertise.sync(ctl.state)
        finally:
            ctl.close()
