"""The lab's Redfish BMCs against real libvirt and the running lab: one per
server, each serving only its server and that server's planned VMs (Systems,
Managers, Chassis, VirtualMedia); a server's power model through Redfish
(off: VM off and links down, the fabric through it broken; on: all back);
a VM cycled through its server's BMC comes back healthy; a silent BMC exits
4 and changes nothing; `lab down` leaves no emulator process, port or file,
also after kill -9 of `up`."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import libvirt
import pytest
import requests
import yaml
from pyroute2 import IPRoute

from lab.apply.netns import inside, namespace_exists
from lab.compute import agent, paths
from lab.compute.daemons import connect
from lab.compute.domain_xml import METADATA_NS
from lab.ops import bmc, power
from lab.ops.redfish import namespace_adapter
from lab.ops.secret_store import load
from lab.plan.naming import mark_for
from lab.providers.state import lab_dir
from tests.fabric.helpers import ROOT, lab_cli, lab_json

from .conftest import LAB, TOPOLOGY, verdicts

pytestmark = pytest.mark.root
HLH = f"{LAB}.oob.hlh"
BOOT_S = 180  # a TCG guest on a loaded 2-core host


def tiny_domain(name: str, mark: str | None, vm: str = "x") -> str:
    lab = name.split(".", maxsplit=1)[0]
    meta = (f"<metadata><sl:vm xmlns:sl='{METADATA_NS}'><sl:mark>{mark}</sl:mark><sl:lab>{lab}"
            f"</sl:lab><sl:vm>{vm}</sl:vm></sl:vm></metadata>") if mark else ""
    return f"""<domain type='qemu'><name>{name}</name><uuid>{uuid.uuid4()}</uuid>{meta}
  <memory unit='MiB'>16</memory><vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
  <devices><disk type='file' device='cdrom'><target dev='hdc' bus='ide'/><readonly/></disk>
    <memballoon model='none'/></devices></domain>"""


@pytest.fixture
def strangers(ops_lab) -> Iterator[dict[str, libvirt.virDomain]]:
    """Domains no BMC of the lab may show: another lab's, an unmarked
    look-alike, and one marked for this lab but planned nowhere."""
    conn = connect()
    made = {"foreign": conn.defineXML(tiny_domain("othr.vm", mark_for("othr"))),
            "impostor": conn.defineXML(tiny_domain(f"{LAB}.impostor", None)),
            "unplanned": conn.defineXML(tiny_domain(f"{LAB}.ghost", mark_for(LAB), vm="ghost"))}
    try:
        yield made
    finally:
        for dom in made.values():
            if dom.isActive():
                dom.destroy()
            dom.undefine()
        conn.close()


def redfish_get(server: str, path: str) -> requests.Response:
    """GET on a server's BMC, from inside the lifecycle host's namespace."""
    port = next(b.port for b in bmc.endpoints(LAB)[1] if b.server == server)
    creds = load(LAB, "bmc").value
    with requests.Session() as http:
        http.mount("http://", namespace_adapter(HLH))
        return http.get(f"http://127.0.0.1:{port}/redfish/v1{path}", auth=(creds["username"], creds["password"]),
                        timeout=30)


def members(server: str, path: str) -> list[str]:
    return sorted(m["@odata.id"].rsplit("/", 1)[1] for m in redfish_get(server, path).json()["Members"])


def vm_domain() -> libvirt.virDomain:
    return connect().lookupByName(f"{LAB}.vm1")


def test_each_server_has_its_own_bmc_serving_only_itself_and_its_vms(strangers):
    status = lab_json("bmc", "status", "--lab", LAB)
    systems = {(r["server"], s["name"], s["kind"]) for r in status["bmcs"] for s in r["systems"]}
    assert systems == {("hv1", "hv1", "server"), ("hv1", "vm1", "vm"), ("hv2", "hv2", "server"),
                       ("mux1", "mux1", "server")}
    assert len({r["url"] for r in status["bmcs"]}) == 3 and status["bmc"]["namespace"] == HLH
    vm_uuid = vm_domain().UUIDString()
    hv1 = members("hv1", "/Systems")
    assert vm_uuid in hv1 and len(hv1) == 2
    assert members("hv1", "/Managers") == [m for m in hv1 if m != vm_uuid]  # one BMC, managing both
    chassis = members("hv1", "/Chassis")[0]
    links = redfish_get("hv1", f"/Chassis/{chassis}").json()["Links"]
    assert sorted(s["@odata.id"].rsplit("/", 1)[1] for s in links["ComputerSystems"]) == hv1
    others = [d.UUIDString() for d in strangers.values()] + ["othr.vm", f"{LAB}.ghost"]
    for server, other in [("hv1", o) for o in others] + [("hv2", vm_uuid), ("hv2", f"{LAB}.vm1")]:
        for path in (f"/Systems/{other}", f"/Managers/{other}", f"/Systems/{other}/VirtualMedia",
                     f"/Systems/{other}/VirtualMedia/Cd"):
            assert redfish_get(server, path).status_code == 404, (server, path)
    assert redfish_get("hv1", f"/Systems/{vm_uuid}/VirtualMedia").status_code == 200
    # the emulator's state is this lab's (under its directory, gone with `down`), not /tmp's
    assert (bmc.state_dir(LAB) / "vmedia.sqlite").exists()


def _links_up(namespace: str) -> dict[str, bool]:
    with inside(namespace):
        ipr = IPRoute()
    with ipr:
        return {link.get("IFLA_IFNAME"): bool(link["flags"] & 1) for link in ipr.get_links()}


def _routes(namespace: str) -> set[tuple]:
    with inside(namespace):
        ipr = IPRoute()
    with ipr:
        return {(r.get("RTA_DST"), r["dst_len"], r.get("RTA_GATEWAY")) for r in ipr.get_routes(family=2)}


def _reach(src: str, dst: str) -> bool:
    from lab.apply.nsexec import run_collector

    res = run_collector(f"{LAB}.ep.{src}", "reach", dst, "--timeout", "1.0", "--tries", "3")
    return res["results"][0]["reachable"]


def _agent_back() -> None:
    agent.wait_ready(paths.agent_socket(lab_dir(LAB), "vm1"), BOOT_S)


def test_a_servers_power_through_its_bmc_is_modelled_and_comes_back(ops_lab):
    routes = _routes(f"{LAB}.hv1")
    assert _reach("web1", "100.64.1.11") and _reach("web2", "100.64.1.20")
    off = lab_json("bmc", "power", "off", "hv1", "--lab", LAB)
    assert (off["power"], off["kind"], off["server"]) == ("Off", "server", "hv1")
    try:
        assert not vm_domain().isActive()
        assert not any(up for name, up in _links_up(f"{LAB}.hv1").items() if name != "lo")
        assert not _reach("web1", "100.64.1.11")
        assert power.records(LAB) == {"hv1": "Off"}
        refused = lab_cli("bmc", "power", "on", "vm1", "--lab", LAB, check=False)
        assert refused.returncode == 1 and "server hv1 is powered off" in " ".join(refused.stderr.split())
        assert not vm_domain().isActive()
    finally:
        on = lab_json("bmc", "power", "on", "hv1", "--lab", LAB)
    assert on["power"] == "On" and power.records(LAB) == {}
    assert all(_links_up(f"{LAB}.hv1").values())
    assert _routes(f"{LAB}.hv1") == routes  # the plan applied again: the routes the kernel dropped are back
    assert vm_domain().isActive()
    _agent_back()
    assert _reach("web1", "100.64.1.11") and _reach("web2", "100.64.1.20")
    hv1 = next(r for r in lab_json("bmc", "status", "hv1", "--lab", LAB)["bmcs"] if r["server"] == "hv1")
    assert {s["name"]: s["power"] for s in hv1["systems"]} == {"hv1": "On", "vm1": "On"}


def test_cycle_restarts_a_vm_through_its_servers_bmc_and_it_comes_back(ops_lab):
    before = vm_domain().ID()
    cycled = lab_json("bmc", "power", "cycle", "vm1", "--lab", LAB)
    assert (cycled["power"], cycled["kind"], cycled["server"]) == ("On", "vm", "hv1")
    assert vm_domain().ID() != before  # a new QEMU process: a real power cycle
    _agent_back()
    assert _reach("web2", "100.64.1.20")


def test_power_cycle_and_reachable_checks_catch_bmc_down(ops_lab):
    """bmc-down: both checks fail; `lab bmc` then exits 4 and changes nothing."""
    checks = ("hlh.bmc.reachable", "hlh.bmc.power_cycle")
    assert verdicts("hlh", checks) == ["pass", "pass"]
    lab_cli("fault", "inject", "bmc-down", str(TOPOLOGY))
    try:
        assert verdicts("hlh", checks) == ["fail", "fail"]
        before = (vm_domain().ID(), _links_up(f"{LAB}.hv1"), power.records(LAB))
        for args in (("power", "off", "hv1"), ("power", "cycle", "vm1"), ("status",)):
            proc = lab_cli("bmc", *args, "--lab", LAB, check=False)
            assert proc.returncode == 4, (args, proc.stderr)
            assert "does not answer" in " ".join(proc.stderr.split()), proc.stderr
        assert (vm_domain().ID(), _links_up(f"{LAB}.hv1"), power.records(LAB)) == before
    finally:
        lab_cli("fault", "clear", str(TOPOLOGY))
    assert verdicts("hlh", checks) == ["pass", "pass"]


def test_boot_device_of_a_vm_and_what_a_server_refuses(ops_lab):
    """The VM has a NIC (PXE possible) and no CD drive (the BMC refuses it)."""
    assert lab_json("bmc", "boot-device", "pxe", "vm1", "--lab", LAB)["boot"] == "Pxe"
    assert lab_json("bmc", "boot-device", "disk", "vm1", "--lab", LAB)["boot"] == "Hdd"
    refused = lab_cli("bmc", "boot-device", "cd", "vm1", "--lab", LAB, check=False)
    assert refused.returncode == 1 and "Cd does not exist in domain" in " ".join(refused.stderr.split())
    server = lab_cli("bmc", "boot-device", "cd", "hv1", "--lab", LAB, check=False)
    assert server.returncode == 2 and "hv1 is a server" in " ".join(server.stderr.split())


@pytest.mark.parametrize(("args", "code", "message"), [
    (("power", "on", "othr.vm"), 2, "has no server or VM 'othr.vm'"),
    (("power", "off", "tor"), 2, "has no server or VM 'tor' with a BMC (servers: hv1, hv2, mux1; VMs: vm1)"),
    (("power", "sideways", "hv1"), 2, "power 'sideways': use one of: on, off, cycle"),
    (("boot-device", "floppy", "vm1"), 2, "boot device 'floppy': use one of"),
    (("status", "nosuch"), 2, "has no server or VM 'nosuch'"),
    (("status", "--lab", "nosuchlab"), 4, "no lab nosuchlab; labs here:"),
])
def test_bad_bmc_input_changes_nothing(ops_lab, args, code, message):
    before = (vm_domain().ID(), power.records(LAB))
    extra = () if "--lab" in args else ("--lab", LAB)
    proc = lab_cli("bmc", *args, *extra, check=False)
    assert proc.returncode == code, proc.stderr
    assert message in " ".join(proc.stderr.split())
    assert (vm_domain().ID(), power.records(LAB)) == before


def _no_vm_topology(tmp_path: Path, name: str) -> Path:
    data = yaml.safe_load(TOPOLOGY.read_text())
    data["name"] = name
    data["vms"] = [v for v in data["vms"] if v.get("kind") == "netns"]
    topo = tmp_path / f"{name}.yaml"
    topo.write_text(yaml.safe_dump(data))
    return topo


def _residue(lab: str) -> list[str]:
    """The ports lived in the lifecycle host's namespace: with it and every
    emulator process gone, no socket of theirs can remain."""
    left = [f"emulator pid {p}" for p in bmc.pids(lab)]
    left += [f"namespace {ns}" for ns in (f"{lab}.oob.hlh",) if namespace_exists(ns)]
    return left + ([f"directory {lab_dir(lab)}"] if lab_dir(lab).exists() else [])


def test_down_leaves_no_emulator_process_port_or_file(tmp_path):
    topo = _no_vm_topology(tmp_path, "hlhd")
    lab_cli("up", str(topo))
    try:
        pid = bmc.pid("hlhd")
        ports = [b.port for b in bmc.endpoints("hlhd")[1]]
        assert pid and all(bmc.answers("hlhd.oob.hlh", "127.0.0.1", p) for p in ports)
    finally:
        lab_cli("down", str(topo))
    assert _residue("hlhd") == []
    assert not Path(f"/proc/{pid}").exists() or pid not in bmc.pids("hlhd")


def test_down_after_kill_9_of_up_finds_the_emulator_by_its_mark(tmp_path):
    """`up` killed right after starting the emulator, its pid file never written."""
    topo = _no_vm_topology(tmp_path, "hlhk")
    proc = subprocess.Popen([sys.executable, "-m", "lab", "up", str(topo)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not bmc.pids("hlhk") and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        orphans = bmc.pids("hlhk")
        assert orphans, "the emulator never started"
        (bmc.bmc_dir("hlhk") / "emulator.pid").unlink(missing_ok=True)  # the window before it is written
        journal = [json.loads(line) for line in (lab_dir("hlhk") / "resources.jsonl").read_text().splitlines()]
        assert any(r["kind"] == "process" and r["name"] == "bmc:hlhk" for r in journal)  # before it started
    finally:
        lab_cli("down", "--lab", "hlhk", check=False)
    assert _residue("hlhk") == []
    assert not [p for p in orphans if Path(f"/proc/{p}/cmdline").exists()
                and b"bmc_server" in Path(f"/proc/{p}/cmdline").read_bytes()]
