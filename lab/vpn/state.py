"""Where the VPN keeps its files, and the state other processes read: the
planned VPNs (`lab down`, status and the pair monitor need them without the
topology) and, per pair, which instance serves the tunnel now.

    <lab dir>/vpn/specs.json            the plan's VPN section, as last applied
    <lab dir>/vpn/<host>/               one daemon: rendered configs (0600),
                                        pid file, log, charon's VICI socket
    <lab dir>/vpn/serving/<vpn>.json    the pair monitor's word: serving host,
                                        since when, the failovers it made
    <lab dir>/vpn/monitor.pid|.log      the pair monitor
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from lab.paths import lab_dir
from lab.plan.vpn_model import VpnSpec


def vpn_dir(lab: str) -> Path:
    return lab_dir(lab) / "vpn"


def host_dir(lab: str, host: str) -> Path:
    return vpn_dir(lab) / host


def _write(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)


def save_specs(lab: str, vpns: list[VpnSpec]) -> None:
    _write(vpn_dir(lab) / "specs.json", [v.model_dump(mode="json") for v in vpns])


def load_specs(lab: str) -> list[VpnSpec]:
    """The VPNs as last applied; none when the file is absent or was written by
    another version (`down` then finds the daemons by namespace alone)."""
    try:
        data = json.loads((vpn_dir(lab) / "specs.json").read_text())
        return [VpnSpec.model_validate(v) for v in data]
    except (OSError, ValueError):  # pydantic's ValidationError is a ValueError
        return []


def _serving_path(lab: str, vpn: str) -> Path:
    return vpn_dir(lab) / "serving" / f"{vpn}.json"


def serving_record(lab: str, vpn: str) -> dict[str, Any]:
    try:
        return json.loads(_serving_path(lab, vpn).read_text())
    except (OSError, ValueError):
        return {}


def serving(vpn: VpnSpec) -> str:
    """The instance that serves the tunnel: the monitor's word, else the active."""
    host = serving_record(vpn.lab, vpn.name).get("host")
    return host if host in {i.host for i in vpn.instances} else vpn.active.host


def set_serving(vpn: VpnSpec, host: str, reason: str) -> None:
    record = serving_record(vpn.lab, vpn.name)
    events = record.get("events", [])[-19:] + [{"at": time.time(), "host": host, "reason": reason}]
    _write(_serving_path(vpn.lab, vpn.name), {"host": host, "since": time.time(), "events": events})
