"""Live test with real VMs as load-balancer backends (lab `lbvm`): two
libvirt/QEMU guests on different servers behind a TCP VIP. The DSR path ends
in a guest kernel that holds the VIP on lo (added by compute at `up`); the
echo service runs in the guest, started and stopped through run-command."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from lb_support import require_root

from lab.model import load_topology
from lab.plan.planner import build_plan
from lab.verify.lb import checks, vm_backend

TOPOLOGY = Path(__file__).with_name("lbvm.yaml")
LAB = "lbvm"
VMS = ("lbvm-a", "lbvm-b")
VIP = "192.0.2.61"
TOOLS = ("clang", "bpftool", "tcpdump", "libvirtd", "virtlogd", "qemu-system-x86_64", "qemu-img",
         "fio", "dpkg-deb", "mke2fs")
pytestmark = [pytest.mark.root, pytest.mark.slow]


@pytest.fixture(scope="module")
def lab():
    require_root(*TOOLS)
    from lab.providers import embedded

    plan = build_plan(load_topology(TOPOLOGY))
    embedded.down(LAB)  # leftovers of an interrupted run
    try:
        t0 = time.monotonic()
        embedded.up(plan)
        print(f"\nlbvm up (fabric, 2 VMs, LB): {time.monotonic() - t0:.1f} s")
        yield plan
    finally:
        embedded.down(LAB)


def _per_backend(evidence: str) -> dict[str, int]:
    """check_dsr's evidence is 'name=count, ...' over every answer seen."""
    pairs = (item.rsplit("=", 1) for item in evidence.split(", ") if "=" in item)
    return {name: int(count) for name, count in pairs}


def test_backends_are_real_vms_holding_the_vip(lab):
    from lab.compute.operations import exec_vm
    from lab.compute.paths import default_lab_dir

    for vm in VMS:
        assert lab.endpoint(vm).kind == "vm"
        out = exec_vm(LAB, default_lab_dir(LAB), vm, "ip -4 addr show dev lo", timeout_s=30).output
        assert f"{VIP}/32" in out, out


def test_hundred_connections_are_answered_from_the_vip_by_both_vms_without_crossing_the_mux(lab):
    connections = 120
    result = checks.check_dsr(LAB, "mux1", connections=connections, budget_s=75)
    print(f"\nlbvm DSR: {result.measured} in {result.duration_s:.1f} s")
    assert result.verdict == "pass", result.measured
    spread = _per_backend(result.evidence)
    assert set(spread) == set(VMS), spread
    assert min(spread.values()) >= 0.2 * connections, f"degenerate distribution {spread}"


def test_echo_service_is_stopped_in_the_guests_after_the_check(lab):
    assert {vm: vm_backend.running(LAB, vm) for vm in VMS} == dict.fromkeys(VMS, 0)


def test_guest_echo_service_answers_http_probes_and_request_lines(lab):
    from lab.lb.health import probe_once
    from lab.lb.state import load_state
    from lab.model.topology import Probe
    from lab.verify.lb import traffic
    from lab.verify.lb.common import wait_healthy

    web = load_state(LAB, "mux1").spec.lb("web")
    http = Probe(protocol="http", port=80, interval_s=1.0)
    with traffic.echo_backends(web.backends, LAB) as handles:
        assert set(handles) == set(VMS)
        probes = {b.name: probe_once(web.gateway_namespace, b.address, http, timeout=3.0) for b in web.backends}
        wait_healthy(LAB, "mux1", web)  # the MUX announces the VIP once a backend is healthy
        conn = traffic.Conn(f"{LAB}.client", VIP, 80, timeout=3.0)
        try:
            first, second = conn.ask(), conn.ask()
        finally:
            conn.close()
    assert probes == dict.fromkeys(VMS, True)
    assert first == second and first in VMS, (first, second)


def test_dsr_check_fails_when_the_vms_do_not_hold_the_vip(lab):
    """The VM-specific half of DSR: without the VIP on lo a guest drops the
    decapsulated packets (probes to its own address still pass), and the
    check must say so. Both VMs, so the outcome does not hang on the hash."""
    from lab.compute.operations import add_vips, exec_vm
    from lab.compute.paths import default_lab_dir

    lab_dir = default_lab_dir(LAB)
    try:
        for vm in VMS:
            dropped = exec_vm(LAB, lab_dir, vm, f"ip addr del {VIP}/32 dev lo", timeout_s=30)
            assert dropped.ok, dropped.output
        result = checks.check_dsr(LAB, "mux1", connections=3, budget_s=10)
    finally:
        for vm in VMS:
            add_vips(LAB, lab_dir, vm, [VIP])
    assert result.verdict == "fail", result.measured
    assert not set(_per_backend(result.evidence)) & set(VMS), result.evidence


def test_down_leaves_no_domains_namespaces_or_pins(lab):
    """Runs last: the fixture's own teardown then finds nothing to remove."""
    from lab.apply.netns import list_namespaces, marked_namespaces
    from lab.compute import libvirt_driver
    from lab.compute.daemons import connect
    from lab.lb import loader
    from lab.providers import embedded

    embedded.down(LAB)
    conn = connect()
    try:
        assert list(libvirt_driver.lab_domains(conn, lab.mark)) == []
    finally:
        conn.close()
    assert marked_namespaces(lab.mark) == []
    assert [ns for ns in list_namespaces() if ns.startswith(f"{LAB}.")] == []
    assert not loader.pin_root(LAB).exists()
