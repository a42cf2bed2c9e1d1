"""The lifecycle host's Redfish emulator: sushy-tools' emulator with its
libvirt driver, one BMC endpoint per server (lab.ops.bmc_driver says what
each serves). The process runs in the host's namespace (where libvirtd makes
the taps a power-on plugs); only its listening sockets are opened inside the
lifecycle host's namespace, the out-of-band network.

`SUSHY_EMULATOR_ALLOWED_INSTANCES` only filters the Systems collection:
Managers, Chassis and VirtualMedia would still reach every domain on the
host. So the driver itself is narrowed, every other resource derives from
it, and a gate before every request refuses a Systems/Managers path
(VirtualMedia included, which does not ask the driver) naming a system this
BMC does not serve. Run as `python -m lab.ops.bmc_server CONFIG.json MARK`
(the mark in the command line is how `lab down` finds the process, even
when `up` died before writing its pid file).
"""

from __future__ import annotations

import json
import re
import signal
import socket
import sys
import threading
from pathlib import Path

from sushy_tools import error
from sushy_tools.emulator import auth_basic
from sushy_tools.emulator import main as emulator
from sushy_tools.emulator.resources.systems import libvirtdriver
from werkzeug.serving import make_server

from lab.apply.netns import inside
from lab.ops import htpasswd
from lab.ops.bmc_driver import BmcManagers, Context, lab_driver
from lab.plan.model import Plan

SCOPED_PATH = re.compile(r"^/redfish/v1/(?:Systems|Managers)/([^/]+)")


def _gate():
    """404 for any per-system path naming a system this BMC does not serve."""
    import flask

    m = SCOPED_PATH.match(flask.request.path)
    if not m:
        return None
    try:
        emulator.app.systems.uuid(m.group(1))
    except error.AliasAccessError:
        return None  # named by its name: served here (the driver checked)
    except error.NotFound:
        return flask.Response(json.dumps({"error": {"message": f"no system {m.group(1)}"}}), status=404,
                              content_type="application/json")
    return None


def _authenticate(auth_file: str, username: str, password: bytes) -> dict:
    """sushy-tools' check, but any line of the user counts (a rotation's overlap)."""
    if htpasswd.check(auth_file, username, password):
        return {"HTTP_X_USER": username, "HTTP_X_USER_NAME": username}
    auth_basic.unauthorized()
    return {}


def configure(config: dict) -> Context:
    ctx = Context(Plan.model_validate(config["plan"]))
    auth_basic.authenticate = _authenticate
    libvirtdriver.LibvirtDriver = lab_driver(ctx)
    emulator.app.before_request(_gate)
    emulator.app.configure(extra_config={
        "SUSHY_EMULATOR_LIBVIRT_URI": config["uri"],
        "SUSHY_EMULATOR_AUTH_FILE": config["auth_file"],
        "SUSHY_EMULATOR_STATE_DIR": config["state_dir"],
        "SUSHY_EMULATOR_FEATURE_SET": "full",
    })
    app = emulator.app
    managers = BmcManagers(app.config, app.logger, app.systems, app.chassis, ctx)
    type(app).managers = property(lambda _self: managers)
    return ctx


def _listening(namespace: str, address: str, port: int) -> socket.socket:
    """A listening socket inside `namespace` (it stays there for its life)."""
    with inside(namespace):
        sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((address, port))
    sock.listen(128)
    return sock


def serve(config: dict) -> None:
    ctx = configure(config)
    assert ctx.plan.lifecycle_host is not None
    servers = []
    for b in ctx.plan.lifecycle_host.bmcs:
        with _listening(config["namespace"], b.address, b.port) as sock:  # werkzeug keeps a duplicate
            servers.append(make_server(b.address, b.port, emulator.app, threaded=True, fd=sock.fileno()))
    threads = [threading.Thread(target=s.serve_forever, name=f"bmc-{s.server_address[1]}", daemon=True)
               for s in servers]
    for t in threads:
        t.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(f"serving {len(servers)} BMC endpoints", flush=True)
    stop.wait()
    for s in servers:
        s.shutdown()


if __name__ == "__main__":  # pragma: no cover - the emulator process
    serve(json.loads(Path(sys.argv[1]).read_text()))
