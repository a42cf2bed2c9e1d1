"""The ordered diff phases of one host's fabric: links, then their settings,
addresses, routes, sysctls, overlay tables, SNAT and the SLB port maps.

The embedded provider runs them over every namespace of the plan; the host
agent (`lab apply-host`, real servers) runs the same list on one host without
pruning what it did not plan, since a real host has state of its own.
"""

from __future__ import annotations

from collections.abc import Callable

from pyroute2 import IPRoute

from lab.apply import l3, links, nat, overlay, portmap
from lab.apply.changes import Change
from lab.plan.model import HostPlan

Phase = tuple[str, Callable[[], list[Change]]]


def host_phases(host: HostPlan, ipr: IPRoute | None, exists: bool, mark: str,
                namespace_of: dict[str, str], keep: frozenset[str] = frozenset(),
                prune: bool = True) -> list[Phase]:
    """`exists`: the host's namespace existed before this run (its sysctls and
    tables can be read); `ipr` is None in a dry run before it is created."""
    return [
        ("links", lambda: links.diff_link_creation(host, ipr, namespace_of)),
        ("link settings", lambda: links.diff_link_config(host, ipr, mark, keep, prune=prune)),
        ("addresses", lambda: l3.diff_addresses(host, ipr, prune=prune)),
        ("routes", lambda: l3.diff_routes(host, ipr, prune=prune)),
        ("sysctls", lambda: l3.diff_sysctls(host, exists)),
        ("overlay tables", lambda: overlay.diff_fdb(host, ipr) + overlay.diff_neighbours(host, ipr)),
        ("snat", lambda: nat.diff_snat(host, exists)),
        ("port maps", lambda: portmap.diff_port_maps(host, exists)),
    ]
