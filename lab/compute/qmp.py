"""A minimal QMP client: one command at a time over a daemon's monitor socket.

The storage daemons (lab.compute.storage_daemon) are driven through QMP so a
running daemon can gain or lose NBD exports without a restart that would
take every leg it serves away from its mirrors. Events that arrive between
replies (QUORUM_REPORT_BAD, BLOCK_EXPORT_DELETED...) are kept in `events`.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

TIMEOUT_S = 10.0


class QmpError(RuntimeError):
    """The daemon refused a command (its class and description) or did not answer."""


class Qmp:
    def __init__(self, path: Path, timeout_s: float = TIMEOUT_S):
        self.path = Path(path)
        self.events: list[dict[str, Any]] = []
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(timeout_s)
        try:
            self._sock.connect(str(self.path))
        except OSError as exc:
            self._sock.close()
            raise QmpError(f"QMP socket {self.path}: {exc}") from exc
        self._file = self._sock.makefile("rwb")
        greeting = self._read()
        if "QMP" not in greeting:
            self.close()
            raise QmpError(f"QMP socket {self.path}: no greeting ({greeting})")
        self.execute("qmp_capabilities")

    def __enter__(self) -> Qmp:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            self._file.close()
        finally:
            self._sock.close()

    def _read(self) -> dict[str, Any]:
        try:
            line = self._file.readline()
        except OSError as exc:
            raise QmpError(f"QMP socket {self.path}: {exc}") from exc
        if not line:
            raise QmpError(f"QMP socket {self.path}: the daemon closed the connection")
        return json.loads(line)

    def execute(self, command: str, **arguments: Any) -> Any:
        """Run `command`; its `return`, or QmpError with the daemon's reason."""
        message: dict[str, Any] = {"execute": command}
        if arguments:
            message["arguments"] = arguments
        try:
            self._file.write(json.dumps(message).encode() + b"\n")
            self._file.flush()
        except OSError as exc:
            raise QmpError(f"QMP socket {self.path}: {exc}") from exc
        while True:
            reply = self._read()
            if "event" in reply:
                self.events.append(reply)
                continue
            if "error" in reply:
                err = reply["error"]
                raise QmpError(f"{command}: {err.get('class')}: {err.get('desc')}")
            return reply.get("return")


def execute(path: Path, command: str, **arguments: Any) -> Any:
    """One command on a fresh connection."""
    with Qmp(path) as qmp:
        return qmp.execute(command, **arguments)
