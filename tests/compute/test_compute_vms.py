"""Real VMs (libvirt + QEMU): boot, diagnostics, wiring, run-command, provisioning."""

from __future__ import annotations

import pytest

from lab.compute import agent, operations, paths, provision, status, vms

pytestmark = [pytest.mark.root, pytest.mark.slow]


def _row(plan, lab_dir, vm):
    return next(r for r in status.vm_status(plan.lab, lab_dir) if r["vm"] == vm)


def test_vm_boots_and_serial_log_shows_the_boot(booted):
    plan, lab_dir, changes = booted
    log = paths.serial_log(lab_dir, "cpt-a").read_text(errors="replace")
    assert "Linux version" in log
    assert "stacklab: guest ready: name=cpt-a eth0=100.64.1.10/24" in log
    row = _row(plan, lab_dir, "cpt-a")
    assert row["state"] == "running" and row["domain_type"] in ("kvm", "qemu")
    assert row["domain"] == "cpt.cpt-a" and row["server"] == "hv1" and row["tenant"] == "red"
    assert row["memory_mib"] == 224 and row["vcpus"] == 1  # DS1_v2: 3584 MiB scaled by 1/16
    caps = {d["name"]: d["iops_cap"] for d in row["disks"]}
    assert caps == {"os": None, "std": 500, "prem": None}
    assert all(d["lease"] == "held" for d in row["disks"]) and row["leases_consistent"]
    assert row["nic"]["plugged_into"] == "br1001" and row["health"] == "ok"


def test_tap_mac_never_becomes_the_bridge_mac(booted):
    """A bridge adopts its lowest port MAC, and a bridge MAC change flushes the
    fabric's permanent neighbour entries: the tap must sort above them."""
    plan, _, _ = booted
    from pyroute2 import IPRoute

    from lab.apply.netns import inside
    from lab.compute.libvirt_driver import tap_mac

    vm = plan.endpoint("cpt-a")
    with inside(vm.server_namespace):
        ipr = IPRoute()
    with ipr:
        tap = ipr.get_links(ipr.link_lookup(ifname=vm.port)[0])[0]
    assert tap.get("IFLA_ADDRESS") == tap_mac(vm.mac) and tap_mac(vm.mac).startswith("fe:ff:ff:")


def test_every_disk_and_domain_is_journaled_before_it_exists(booted):
    plan, lab_dir, changes = booted
    journaled = "\n".join(c for c in changes if c.startswith("journal"))
    for vm in ("cpt-a", "cpt-b"):
        assert f"'domain', 'cpt.{vm}'" in journaled
        assert str(paths.os_disk(lab_dir, vm)) in journaled
    assert str(paths.data_disk(lab_dir, "cpt-a", "std")) in journaled


def test_the_dry_run_listed_exactly_what_the_first_ensure_did(first_ensure):
    assert first_ensure["dry"] == first_ensure["done"]
    kinds = [c["kind"] for c in first_ensure["done"]]
    assert {"disk", "vm", "vm-boot", "provision"} <= set(kinds)


def test_the_dry_run_matches_ensure_on_drifted_vms(booted):
    """A cap changed behind the rig's back and a tap out of its bridge: the
    dry run lists both, ensure_vms does exactly that, then nothing is left."""
    from pyroute2 import IPRoute

    from lab.apply.netns import inside
    from lab.compute import libvirt_driver
    from lab.compute.daemons import connect

    plan, lab_dir, _ = booted
    conn = connect()
    try:
        libvirt_driver.set_iops_cap(conn.lookupByName("cpt.cpt-a"), "vdb", 123)
    finally:
        conn.close()
    vm_b = plan.endpoint("cpt-b")
    with inside(vm_b.server_namespace):
        ipr = IPRoute()
    with ipr:
        ipr.link("set", index=ipr.link_lookup(ifname=vm_b.port)[0], master=0)
    dry = [c.to_json() for c in vms.diff_vms(plan, lab_dir)]
    done = [c.to_json() for c in vms.ensure_vms(plan, lab_dir, lambda *_: None)]
    assert dry == done
    assert [(c["kind"], c["target"]) for c in done] == [
        ("disk", "cpt-a/std cap 500"), ("vm-nic", f"cpt-b {vm_b.port}")]
    assert vms.diff_vms(plan, lab_dir) == []


def test_second_ensure_changes_nothing(booted):
    plan, lab_dir, _ = booted
    assert vms.ensure_vms(plan, lab_dir, lambda *_: pytest.fail("nothing to create")) == []


def test_vms_on_one_bridge_reach_each_other_only_through_the_tap(booted):
    plan, lab_dir, _ = booted
    ping = "ping -c 1 -W 3 100.64.1.11"
    assert operations.exec_vm(plan.lab, lab_dir, "cpt-a", ping).ok
    vm_b = plan.endpoint("cpt-b")
    from pyroute2 import IPRoute

    from lab.apply.netns import inside

    with inside(vm_b.server_namespace):
        ipr = IPRoute()
    with ipr:  # fault: unplug cpt-b's tap from the tenant bridge
        ipr.link("set", index=ipr.link_lookup(ifname=vm_b.port)[0], master=0)
    try:
        assert not operations.exec_vm(plan.lab, lab_dir, "cpt-a", ping).ok
        assert _row(plan, lab_dir, "cpt-b")["health"] == "nic not on br1001"
    finally:
        changes = vms.ensure_vms(plan, lab_dir, lambda *_: None)  # re-plugs it
    assert [c.kind for c in changes] == ["vm-nic"]
    assert operations.exec_vm(plan.lab, lab_dir, "cpt-a", ping).ok
    assert _row(plan, lab_dir, "cpt-b")["health"] == "ok"


def test_run_command_returns_exit_code_and_output(booted):
    plan, lab_dir, _ = booted
    result = operations.exec_vm(plan.lab, lab_dir, "cpt-b", "echo out; echo err >&2; exit 5")
    assert (result.exit_code, result.output) == (5, "out\nerr\n")
    killed = operations.exec_vm(plan.lab, lab_dir, "cpt-b", "sleep 30", timeout_s=1)
    assert killed.exit_code != 0


def test_provisioning_failure_and_success_propagate_to_state(booted):
    plan, lab_dir, _ = booted
    assert _row(plan, lab_dir, "cpt-b")["provisioning"]["state"] == "succeeded"
    bad = plan.model_copy(update={"endpoints": [
        e.model_copy(update={"provision_script": "echo boom; exit 7"}) if e.name == "cpt-b" else e
        for e in plan.endpoints]})
    changes = vms.ensure_vms(bad, lab_dir, lambda *_: None)
    assert [str(c) for c in changes if c.kind == "provision"] == [
        "update provision hv1: cpt-b failed (exit 7)"]
    prov = _row(plan, lab_dir, "cpt-b")["provisioning"]
    assert (prov["state"], prov["exit_code"], prov["output"]) == ("failed", 7, "boom\n")
    assert _row(plan, lab_dir, "cpt-b")["health"] == "provisioning failed (exit 7)"
    assert "VMExtensionProvisioningError" in prov["error"]
    vms.ensure_vms(plan, lab_dir, lambda *_: None)  # the fixed script runs again
    prov = _row(plan, lab_dir, "cpt-b")["provisioning"]
    assert (prov["state"], prov["exit_code"]) == ("succeeded", 0)
    assert provision.read_state(lab_dir, "cpt-b")["output"] == "provisioned-cpt-b\n"


def test_lb_vips_go_on_lo_without_arp_once(booted):
    plan, lab_dir, _ = booted
    vips = {"cpt-a": ["192.0.2.10", "192.0.2.11"]}
    changes = vms.ensure_vms(plan, lab_dir, lambda *_: None, vips=vips)
    assert sorted(c.target for c in changes) == ["cpt-a lo 192.0.2.10", "cpt-a lo 192.0.2.11"]
    assert vms.ensure_vms(plan, lab_dir, lambda *_: None, vips=vips) == []  # idempotent
    out = operations.exec_vm(plan.lab, lab_dir, "cpt-a",
                             "ip -4 addr show dev lo; cat /proc/sys/net/ipv4/conf/all/arp_ignore")
    assert "192.0.2.10/32" in out.output and out.output.rstrip().endswith("1")
    with pytest.raises(ValueError):
        operations.add_vips(plan.lab, lab_dir, "cpt-a", ["1.2.3.4; reboot"])


def test_exec_on_unknown_vm_is_a_clear_error(booted):
    plan, lab_dir, _ = booted
    with pytest.raises(operations.VmNotFound, match="no VM 'nope'"):
        operations.exec_vm(plan.lab, lab_dir, "nope", "true")
    with pytest.raises(agent.AgentError):
        agent.wait_ready(lab_dir / "no-such.sock", timeout_s=0.3)


def test_a_vm_behind_the_endpoint_interface_runs_execs_holds_vips_and_reaches(booted, capfd):
    from lab.compute import endpoints
    from lab.verify.endpoints import endpoint as checked

    plan, _, _ = booted
    a, b = plan.endpoint("cpt-a"), plan.endpoint("cpt-b")
    vm = endpoints.endpoint(plan.lab, a, a.server_namespace)
    assert vm.is_vm and vm.missing() is None
    assert vm.run("echo hi; exit 3", 30).exit_code == 3
    assert vm.exec(["sh", "-c", "echo there; exit 4"]) == 4 and "there" in capfd.readouterr().out
    vm.add_vips(["192.0.2.12"])
    assert "192.0.2.12/32" in vm.run("ip -4 addr show dev lo", 30).output
    assert checked(plan.lab, a, None).reach([b.address], 3) == [{"target": b.address, "reachable": True}]
    server = endpoints.NetnsEndpoint(plan.lab, "hv1", a.server_namespace)
    assert not server.is_vm and server.run("echo ns", 10).output == "ns\n" and server.exec(["true"]) == 0
