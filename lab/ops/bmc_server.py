"""The lab's Redfish BMC: sushy-tools' emulator with its libvirt driver,
narrowed to the lab's own domains.

`SUSHY_EMULATOR_ALLOWED_INSTANCES` only filters the Systems collection and
system resources: Managers, Chassis and VirtualMedia still enumerate or
reach every domain on the host. So the systems driver itself is narrowed:
a domain exists for this emulator only if its name is `<lab>.<vm>` and its
stacklab metadata carries the lab's ownership mark. Every other resource is
derived from the driver, and a gate before every request refuses a
Systems/Managers path (VirtualMedia included, which does not ask the
driver) naming a domain the driver does not see. Run as
`python -m lab.ops.bmc_server CONFIG.json`; it serves on 127.0.0.1 only.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import libvirt
from sushy_tools import error
from sushy_tools.emulator import main as emulator
from sushy_tools.emulator.resources.systems import libvirtdriver

from lab.compute.domain_xml import read_metadata

LISTEN = "127.0.0.1"
SCOPED_PATH = re.compile(r"^/redfish/v1/(?:Systems|Managers)/([^/]+)")


def _owned(dom: libvirt.virDomain, lab: str, mark: str) -> bool:
    if not dom.name().startswith(f"{lab}."):
        return False
    try:
        meta = read_metadata(dom.XMLDesc())
    except libvirt.libvirtError:
        return False
    return bool(meta) and meta.get("mark") == mark


def lab_only_driver(lab: str, mark: str) -> type:
    class LabOnlyDriver(libvirtdriver.LibvirtDriver):
        """The libvirt systems driver, seeing only the lab's domains."""

        @property
        def systems(self) -> list[str]:
            with libvirtdriver.libvirt_open(self._uri, readonly=True) as conn:
                return [d.UUIDString() for d in conn.listAllDomains() if _owned(d, lab, mark)]

        def _get_domain(self, identity, readonly=False):
            # the parent's memo keys on keyword names, not values: call it as its own callers do
            parent = super()._get_domain
            try:
                dom = parent(identity, readonly=True) if readonly else parent(identity)
            except error.AliasAccessError as alias:
                with libvirtdriver.libvirt_open(self._uri, readonly=True) as conn:
                    dom = conn.lookupByUUIDString(str(alias))
                if not _owned(dom, lab, mark):
                    raise error.NotFound(f"no system {identity}") from None
                raise
            if not _owned(dom, lab, mark):
                raise error.NotFound(f"no system {identity}")
            return dom

    return LabOnlyDriver


def _gate():
    """404 for any per-system path of a domain that is not the lab's."""
    import flask

    m = SCOPED_PATH.match(flask.request.path)
    if not m:
        return None
    try:
        emulator.app.systems.uuid(m.group(1))
    except error.AliasAccessError:
        return None  # named by its domain name: owned (the driver checked)
    except error.NotFound:
        return flask.Response(json.dumps({"error": {"message": f"no system {m.group(1)}"}}), status=404,
                              content_type="application/json")
    return None


def serve(config: dict) -> None:
    libvirtdriver.LibvirtDriver = lab_only_driver(config["lab"], config["mark"])
    emulator.app.before_request(_gate)
    emulator.app.configure(extra_config={
        "SUSHY_EMULATOR_LIBVIRT_URI": config["uri"],
        "SUSHY_EMULATOR_AUTH_FILE": config["auth_file"],
        "SUSHY_EMULATOR_LISTEN_IP": LISTEN,
        "SUSHY_EMULATOR_LISTEN_PORT": config["port"],
        "SUSHY_EMULATOR_FEATURE_SET": "full",
    })
    emulator.app.run(host=LISTEN, port=config["port"], threaded=True)


if __name__ == "__main__":  # pragma: no cover - the emulator process
    serve(json.loads(Path(sys.argv[1]).read_text()))
