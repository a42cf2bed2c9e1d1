"""One IKEv2 end: strongSwan's charon with kernel-libipsec in the end's
namespace, configured from the shared swanctl.conf template.

charon reads only the lab's strongswan.conf (STRONGSWAN_CONF) and serves
VICI on a socket in the end's directory. The rendered swanctl.conf (it holds
the pre-shared key: 0600) is loaded with strongSwan's own loader, swanctl,
exactly as on a real gateway; queries and commands (SAs, initiate) go over
VICI with strongSwan's Python binding.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import vici

from lab.ops.secret_store import write_private
from lab.vpn import daemon
from lab.vpn.render import End, strongswan_conf, swanctl_conf

CHARON = "/usr/lib/ipsec/charon"
START_TIMEOUT_S = 15.0


class IkeError(RuntimeError):
    pass


def _vici_path(directory: Path) -> Path:
    return directory / "charon.vici"


def config_path(directory: Path) -> Path:
    return directory / "swanctl.conf"


def pid_file(directory: Path) -> Path:
    return directory / "charon.pid"


def running(directory: Path) -> int | None:
    return daemon.running(pid_file(directory), CHARON)


@contextmanager
def session(directory: Path, timeout: float = 5.0) -> Iterator[vici.Session]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(str(_vici_path(directory)))
        yield vici.Session(sock)
    finally:
        sock.close()


def healthy(directory: Path) -> bool:
    """charon answers on its control socket (what the pair monitor asks)."""
    try:
        with session(directory, timeout=1.0) as s:
            s.version()
        return True
    except (OSError, vici.exception.SessionException, vici.exception.CommandException):
        return False


def start(end: End, directory: Path, conf: str) -> int:
    """Start charon (its settings written first), wait for VICI, load `conf`."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "strongswan.conf").write_text(strongswan_conf(directory))
    _vici_path(directory).unlink(missing_ok=True)
    pid = daemon.start(end.namespace, [CHARON], pid_file(directory), directory / "charon.stdout",
                       env={"STRONGSWAN_CONF": str(directory / "strongswan.conf")})
    deadline = time.monotonic() + START_TIMEOUT_S
    while not healthy(directory):
        if time.monotonic() > deadline or running(directory) is None:
            raise IkeError(f"charon of {end.host} did not answer on {_vici_path(directory)} within "
                           f"{START_TIMEOUT_S:.0f} s; see {directory / 'charon.log'}")
        time.sleep(0.1)
    load(directory, conf)
    return pid


def load(directory: Path, conf: str) -> None:
    """Write the config (0600) and load it all with swanctl; a refused config
    fails with swanctl's own message."""
    write_private(config_path(directory), conf)
    swanctl = shutil.which("swanctl") or "/usr/sbin/swanctl"
    out = subprocess.run([swanctl, "--load-all", "--noprompt", "--file", str(config_path(directory)),
                          "--uri", f"unix://{_vici_path(directory)}"], capture_output=True, text=True,
                         timeout=30, check=False)
    if out.returncode != 0:
        raise IkeError(f"swanctl refused {config_path(directory)}: {(out.stdout + out.stderr).strip()[-500:]}")


def loaded(directory: Path) -> str:
    try:
        return config_path(directory).read_text()
    except OSError:
        return ""


def wanted_conf(vpn, end: End, secret: dict[str, str]) -> str:
    return swanctl_conf(vpn, end, secret["psk"])


def sas(directory: Path) -> list[dict[str, Any]]:
    """IKE SAs: [{name, state, remote, children: {name: state}, rx_bytes, tx_bytes}]
    (the bytes its CHILD_SAs carried in and out: they start again at a rekey)."""
    result = []
    with session(directory) as s:
        for entry in s.list_sas():
            for name, sa in entry.items():
                child_sas = sa.get("child-sas", {}).values()
                children = {_text(c.get("name")): _text(c.get("state")) for c in child_sas}
                result.append({"name": name, "state": _text(sa.get("state")), "remote": _text(sa.get("remote-host")),
                               "children": children, "rx_bytes": sum(_int(c.get("bytes-in")) for c in child_sas),
                               "tx_bytes": sum(_int(c.get("bytes-out")) for c in child_sas)})
    return result


def _int(value: Any) -> int:
    try:
        return int(_text(value) or 0)
    except ValueError:
        return 0


def _text(value: Any) -> str:
    """VICI answers with str keys and bytes values."""
    return value.decode() if isinstance(value, bytes) else str(value or "")


def established(directory: Path, name: str) -> dict[str, Any] | None:
    """The ESTABLISHED IKE SA of `name` with its CHILD_SA INSTALLED, if any."""
    try:
        found = sas(directory)
    except (OSError, vici.exception.SessionException):
        return None
    return next((sa for sa in found if sa["name"] == name and sa["state"] == "ESTABLISHED"
                 and sa["children"].get(name) == "INSTALLED"), None)


def initiate(directory: Path, name: str, timeout_ms: int = 10000) -> None:
    """Bring the tunnel up from this end now (the standby taking over)."""
    try:
        with session(directory, timeout=timeout_ms / 1000 + 5) as s:
            for _ in s.initiate({"child": name, "ike": name, "timeout": timeout_ms}):
                pass
    except vici.exception.CommandException as exc:
        raise IkeError(f"initiate {name} at {directory.name}: {exc}") from None


def terminate(directory: Path, name: str) -> None:
    try:
        with session(directory) as s:
            for _ in s.terminate({"ike": name, "force": "yes", "timeout": -1}):
                pass
    except vici.exception.CommandException:
        pass  # nothing to terminate


def load_psk(directory: Path, end: End, psk: str) -> None:
    """Replace the loaded pre-shared key of this end (the key-mismatch fault)."""
    with session(directory) as s:
        s.load_shared({"id": f"ike-{end.vpn}", "type": "IKE", "data": psk,
                       "owners": [end.local_id, end.remote_id]})
