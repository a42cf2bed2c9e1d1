"""The one registry of what the rig can do: each feature names, by lazy
"module:attribute" reference, the parts it brings.

  plan       (plan, topology) -> plan   adds its part to the pure plan
  lifecycle  module with diff(plan) -> [Change], up(plan, journal, progress)
             -> [Change], down(lab, progress) -> [str], status(lab) -> dict
  checks     (plan) -> [Check]          its group of `lab verify`
  faults     module with FAULTS {kind: fn(plan, server=, ...) -> str} and,
             when `up` alone cannot undo them, clear(plan) -> [str]
  collector  (lab_dir, lab) -> collector | None, served by `lab exporter`
  commands   module with register(app, bench): its verbs on the command line

References stay strings until used, so `lab --help` imports no feature and a
feature that is not installed (its package missing) is simply absent. The
core (fabric) is a feature like the others; its lifecycle is the provider's
own phase list, so it has none here. Up runs in this order, down in reverse.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any


@dataclass(frozen=True)
class Feature:
    name: str
    plan: str | None = None
    lifecycle: str | None = None
    checks: str | None = None
    faults: str | None = None
    collector: str | None = None
    commands: str | None = None


FEATURES: tuple[Feature, ...] = (
    Feature("fabric", checks="lab.verify.fabric.checks:verify_checks", faults="lab.verify.fabric.faults",
            collector="lab.report.collectors.fabric:fabric_collector", commands="lab.cli.lifecycle"),
    Feature("rdma", checks="lab.verify.rdma.checks:verify_checks"),
    Feature("compute", lifecycle="lab.compute.lifecycle", checks="lab.verify.storage.checks:verify_checks",
            faults="lab.verify.storage.faults", commands="lab.cli.compute"),
    Feature("lb", plan="lab.plan.lb:plan_load_balancers", lifecycle="lab.lb.lifecycle",
            checks="lab.verify.lb.checks:verify_checks", faults="lab.verify.lb.faults",
            collector="lab.report.collectors.lb:lb_collector", commands="lab.cli.lb"),
    Feature("vpn", plan="lab.plan.vpn:plan_vpn_gateways", lifecycle="lab.vpn.lifecycle",
            checks="lab.verify.vpn.checks:verify_checks", faults="lab.verify.vpn.faults",
            collector="lab.report.collectors.vpn:vpn_collector"),
    Feature("nodes", commands="lab.cli.nodes"),  # lab list / exec / shell / capture
    Feature("graph", commands="lab.cli.graph"),
    Feature("verify", commands="lab.cli.verify"),
    Feature("report", commands="lab.cli.report"),
    Feature("ops", plan="lab.plan.hlh:plan_lifecycle_host", lifecycle="lab.ops.lifecycle",
            checks="lab.verify.ops.checks:verify_checks", faults="lab.verify.ops.faults", commands="lab.cli.ops"),
)


# the groups checks report under (`lab verify --only GROUP`), named here so
# the command line offers them without importing a feature
CHECK_GROUPS = ("fabric", "storage", "lb", "rdma", "baseline", "hlh", "vpn")


def optional_module(name: str) -> ModuleType | None:
    """Import `name`; None if it (or its package) does not exist. An import
    error from inside an existing module is a bug and propagates."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and name.startswith(exc.name):
            return None
        raise


def resolve(ref: str) -> Any:
    """"module" -> the module; "module:attr" -> the attribute; None if absent."""
    module_name, _, attr = ref.partition(":")
    module = optional_module(module_name)
    if module is None or not attr:
        return module
    return getattr(module, attr)


def parts(kind: str, reverse: bool = False) -> Iterator[tuple[Feature, Any]]:
    """(feature, resolved part) for every installed feature that has `kind`."""
    for feature in (FEATURES[::-1] if reverse else FEATURES):
        ref = getattr(feature, kind)
        if ref is not None and (part := resolve(ref)) is not None:
            yield feature, part


def lifecycles(reverse: bool = False) -> list[ModuleType]:
    return [m for _, m in parts("lifecycle", reverse)]


def planners() -> list[Callable[[Any, Any], Any]]:
    return [fn for _, fn in parts("plan")]


def check_builders() -> list[Callable[[Any], list]]:
    return [fn for _, fn in parts("checks")]


def fault_modules() -> list[ModuleType]:
    return [m for _, m in parts("faults")]


def collector_factories() -> dict[str, Callable]:
    return {f.name: fn for f, fn in parts("collector")}


def command_modules() -> list[ModuleType]:
    return [m for _, m in parts("commands")]
