"""The embedded provider: the whole lab on this machine, one namespace per
server, ToR, client, tenant gateway and namespace endpoint.

`up` converges in phases (namespaces, links, link settings, L3 and overlay
tables); each phase diffs the kernel against the plan and applies only the
difference, so a second `up` changes nothing. A failed `up` tears the lab down.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from pydantic import ValidationError

from lab.apply import phases
from lab.apply.changes import Change
from lab.apply.netns import (
    Sockets,
    create_namespace,
    marked_namespaces,
    namespace_exists,
    namespace_mark,
    remove_namespace,
)
from lab.exitcodes import CannotActError
from lab.plan.model import HostPlan, Plan
from lab.plan.naming import mark_for
from lab.providers import hooks
from lab.providers.base import Progress, quiet
from lab.providers.state import Journal, lab_dir, lab_lock, lock_path, read_json, remove_lab_dir, write_json


class OwnershipError(RuntimeError):
    """A namespace the plan needs exists but belongs to someone else."""


@dataclass
class UpReport:
    lab: str
    changes: list[Change] = field(default_factory=list)
    dry_run: bool = False


def up(plan: Plan, dry_run: bool = False, progress: Progress = quiet) -> UpReport:
    with lab_lock(plan.lab):
        _check_ownership(plan)
        if dry_run:
            with Sockets() as sockets:
                report = UpReport(plan.lab, _diff_all(plan, sockets), dry_run=True)
            if not lab_dir(plan.lab).exists():  # a dry run of a lab that is not up leaves nothing
                lock_path(plan.lab).unlink(missing_ok=True)
            return report
        report = UpReport(plan.lab)
        try:
            with Sockets() as sockets:
                for phase, diff in _phases(plan, sockets):
                    progress(phase)
                    for change in diff():
                        change.apply()
                        report.changes.append(change)
            report.changes += hooks.run_up(plan, Journal(plan.lab), progress)
        except BaseException:
            progress("failed: rolling back")
            _teardown(plan.lab, progress)
            raise
        write_json(lab_dir(plan.lab) / "plan.json", plan.model_dump(mode="json"))
        return report


def down(lab: str, progress: Progress = quiet) -> list[str]:
    """Remove everything the lab created, found by journal and mark; nothing else."""
    with lab_lock(lab):
        return _teardown(lab, progress)


class StalePlanError(CannotActError):
    """The lab's saved plan was written by another version of stacklab."""


def saved_plan(lab: str) -> Plan | None:
    path = lab_dir(lab) / "plan.json"
    data = read_json(path)
    if not data:
        return None
    try:
        return Plan.model_validate(data)
    except ValidationError as exc:
        raise StalePlanError(
            f"lab {lab} was brought up by another version of stacklab: its plan {path} does not read "
            f"({exc.error_count()} differences, first at {'.'.join(map(str, exc.errors()[0]['loc']))}); "
            f"`lab up` the topology again to bring it to this version, or `lab down --lab {lab}`"
        ) from None


def _check_ownership(plan: Plan) -> None:
    for host in plan.hosts:
        mark = namespace_mark(host.namespace) if namespace_exists(host.namespace) else plan.mark
        if mark != plan.mark and host.namespace not in _journaled(plan.lab):
            raise OwnershipError(
                f"namespace '{host.namespace}' exists but is not owned by lab '{plan.lab}' "
                f"(mark {mark!r}); remove it or rename the lab"
            )


def _journaled(lab: str) -> set[str]:
    return {r.name for r in Journal(lab).resources("netns")}


def _phases(plan: Plan, sockets: Sockets) -> Iterable[tuple[str, Callable[[], list[Change]]]]:
    namespace_of = {h.name: h.namespace for h in plan.hosts}
    keep = _vm_ports(plan)

    def ipr(host: HostPlan):
        return sockets(host.namespace) if namespace_exists(host.namespace) else None

    # a namespace created by this run gets every planned sysctl written (and
    # listed), so a dry run, which cannot know a new namespace's defaults, agrees
    existed = {h.name for h in plan.hosts if namespace_exists(h.namespace)}

    def host_phases(host: HostPlan) -> list[tuple[str, Callable[[], list[Change]]]]:
        return phases.host_phases(host, ipr(host), host.name in existed, plan.mark,
                                  namespace_of, keep.get(host.name, frozenset()))

    yield "namespaces", lambda: _diff_namespaces(plan, sockets)
    # phase by phase over all hosts: a veth pair needs both namespaces, a
    # route its link, an FDB entry its VXLAN device
    names = [name for name, _ in phases.host_phases(plan.hosts[0], None, False, plan.mark, {})]
    for i, name in enumerate(names):
        yield name, lambda i=i: [c for h in plan.hosts for c in host_phases(h)[i][1]()]


def _diff_all(plan: Plan, sockets: Sockets) -> list[Change]:
    return [c for _, diff in _phases(plan, sockets) for c in diff()] + hooks.diff_up(plan)


def _vm_ports(plan: Plan) -> dict[str, frozenset[str]]:
    """VM taps live on server bridges but belong to the compute applier."""
    ports: dict[str, set[str]] = {}
    for e in plan.vms():
        ports.setdefault(e.server, set()).add(e.port)
    return {k: frozenset(v) for k, v in ports.items()}


def _diff_namespaces(plan: Plan, sockets: Sockets) -> list[Change]:
    journal = Journal(plan.lab)
    changes = []
    for host in plan.hosts:
        if namespace_exists(host.namespace):
            continue

        def create(ns: str = host.namespace) -> None:
            journal.record("netns", ns)
            create_namespace(ns, plan.mark, sockets)

        changes.append(Change(host.name, "create", "netns", host.namespace, create))
    wanted = {h.namespace for h in plan.hosts}
    if plan.lifecycle_host is not None:  # the ops feature makes it (lab.ops.lifecycle)
        wanted.add(plan.lifecycle_host.namespace)
    for ns in sorted(set(marked_namespaces(plan.mark)) - wanted):
        changes.append(Change(ns, "delete", "netns", ns, lambda n=ns: remove_namespace(n, sockets)))
    return changes


def _teardown(lab: str, progress: Progress) -> list[str]:
    mark = mark_for(lab)
    removed = hooks.run_down(lab, progress)
    progress("namespaces")
    recorded = _journaled(lab)
    for ns in sorted(recorded | set(marked_namespaces(mark))):
        owner = namespace_mark(ns)
        # unmarked but journaled: created, then killed before the mark was set
        if owner == mark or (owner is None and ns in recorded and namespace_exists(ns)):
            remove_namespace(ns)
            removed.append(f"netns {ns}")
    remove_lab_dir(lab)
    lock_path(lab).unlink(missing_ok=True)
    return removed
