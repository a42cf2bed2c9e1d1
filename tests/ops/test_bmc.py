"""The lab's Redfish BMC against real libvirt: it serves only the lab's own
domains (Systems, Managers, Chassis, VirtualMedia), powers them through
Redfish, and `lab down` leaves no emulator process, port or file.

The domains here are defined with no disk and no kernel (a powered-on one
runs QEMU's firmware with nothing to boot): power is real libvirt state,
and no guest OS is booted."""

from __future__ import annotations

import socket
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import libvirt
import pytest
import requests
import yaml

from lab.compute.daemons import connect
from lab.compute.domain_xml import METADATA_NS
from lab.ops import bmc
from lab.ops.secret_store import load
from lab.plan.naming import mark_for
from lab.providers.state import lab_dir
from tests.fabric.helpers import lab_cli, lab_json

from .conftest import LAB, TOPOLOGY, fault_flips_check

pytestmark = pytest.mark.root


def tiny_domain(name: str, mark: str | None) -> str:
    lab = name.split(".", maxsplit=1)[0]
    meta = (f"<metadata><sl:vm xmlns:sl='{METADATA_NS}'><sl:mark>{mark}</sl:mark><sl:lab>{lab}"
            f"</sl:lab></sl:vm></metadata>") if mark else ""
    return f"""<domain type='qemu'><name>{name}</name><uuid>{uuid.uuid4()}</uuid>{meta}
  <memory unit='MiB'>16</memory><vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
  <on_poweroff>destroy</on_poweroff>
  <devices><disk type='file' device='cdrom'><target dev='hdc' bus='ide'/><readonly/></disk>
    <memballoon model='none'/></devices></domain>"""


@pytest.fixture
def domains(ops_lab) -> Iterator[dict[str, libvirt.virDomain]]:
    conn = connect()
    made = {"mine": conn.defineXML(tiny_domain(f"{LAB}.bmcvm", mark_for(LAB))),
            "foreign": conn.defineXML(tiny_domain("othr.vm", mark_for("othr"))),
            "impostor": conn.defineXML(tiny_domain(f"{LAB}.impostor", None))}
    try:
        yield made
    finally:
        for dom in made.values():
            if dom.isActive():
                dom.destroy()
            dom.undefine()
        conn.close()


def redfish_get(path: str) -> requests.Response:
    creds = load(LAB, "bmc").value
    return requests.get(f"{bmc.url(LAB)}{path}", auth=(creds["username"], creds["password"]), timeout=10)


def members(path: str) -> list[str]:
    return [m["@odata.id"].rsplit("/", 1)[1] for m in redfish_get(path).json()["Members"]]


def test_only_the_labs_own_domains_are_visible_or_reachable(domains):
    mine, foreign, impostor = (domains[k].UUIDString() for k in ("mine", "foreign", "impostor"))
    assert members("/Systems") == [mine]
    assert members("/Managers") == [mine]
    chassis = members("/Chassis")[0]
    links = redfish_get(f"/Chassis/{chassis}").json()["Links"]
    assert [s["@odata.id"].rsplit("/", 1)[1] for s in links["ComputerSystems"]] == [mine]
    for other in (foreign, impostor, "othr.vm"):
        for path in (f"/Systems/{other}", f"/Managers/{other}", f"/Systems/{other}/VirtualMedia",
                     f"/Systems/{other}/VirtualMedia/Cd"):
            assert redfish_get(path).status_code == 404, path
    assert redfish_get(f"/Systems/{mine}/VirtualMedia").status_code == 200


def test_power_on_off_and_boot_device_through_redfish(domains):
    status = lab_json("bmc", "status", "--lab", LAB)
    assert [s["name"] for s in status["systems"]] == ["bmcvm"] and status["systems"][0]["power"] == "Off"
    assert lab_json("bmc", "power", "on", "bmcvm", "--lab", LAB)["power"] == "On"
    assert domains["mine"].isActive()
    assert lab_json("bmc", "power", "off", "bmcvm", "--lab", LAB)["power"] == "Off"
    assert not domains["mine"].isActive()
    assert lab_json("bmc", "boot-device", "cd", "bmcvm", "--lab", LAB)["boot"] == "Cd"
    cdrom = ET.fromstring(domains["mine"].XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)).find(
        "devices/disk[@device='cdrom']/boot")
    assert cdrom is not None and cdrom.get("order") == "1"  # libvirt's per-device boot order
    refused = lab_cli("bmc", "boot-device", "pxe", "bmcvm", "--lab", LAB, check=False)
    assert refused.returncode == 1 and "Pxe does not exist in domain" in " ".join(refused.stderr.split())
    assert not domains["foreign"].isActive()


@pytest.mark.parametrize(("args", "code", "message"), [
    (("power", "on", "othr.vm"), 4, "has no BMC system 'othr.vm'"),
    (("power", "on", "hv1"), 4, "has no BMC system 'hv1'"),
    (("power", "sideways", "bmcvm"), 2, "power 'sideways': use one of: on, off, cycle"),
    (("boot-device", "floppy", "bmcvm"), 2, "boot device 'floppy': use one of"),
    (("status", "--lab", "nosuchlab"), 4, "no lab nosuchlab; labs here:"),
])
def test_bad_bmc_input_changes_nothing(domains, args, code, message):
    extra = () if "--lab" in args else ("--lab", LAB)
    proc = lab_cli("bmc", *args, *extra, check=False)
    assert proc.returncode == code, proc.stderr
    assert message in " ".join(proc.stderr.split())
    assert not any(d.isActive() for d in domains.values())


def test_bmc_reachable_check_catches_bmc_down(ops_lab):
    def status_says_why() -> None:
        proc = lab_cli("bmc", "status", "--lab", LAB, check=False)
        assert proc.returncode == 1 and "BMC of lab opsl" in " ".join(proc.stderr.split())

    fault_flips_check("bmc-down", "hlh", "hlh.bmc.reachable", status_says_why)


def test_down_leaves_no_emulator_process_port_or_file(tmp_path):
    data = yaml.safe_load(TOPOLOGY.read_text())
    data["name"] = "opsb"
    topo = tmp_path / "opsb.yaml"
    topo.write_text(yaml.safe_dump(data))
    lab_cli("up", str(topo))
    try:
        pid, (_, port) = bmc.pid("opsb"), bmc.endpoint("opsb")
        assert pid and Path(f"/proc/{pid}").exists()
    finally:
        lab_cli("down", str(topo))
    assert not Path(f"/proc/{pid}/cmdline").exists() or b"bmc_server" not in Path(f"/proc/{pid}/cmdline").read_bytes()
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0
    assert not lab_dir("opsb").exists()
