"""Host side of the run-command agent: a virtio-serial channel that QEMU
exposes as a unix socket in the lab directory. Needs no guest network, so it
works before (and regardless of) the overlay.

One client at a time per VM (a QEMU chardev takes one connection): a lock
file next to the socket serialises callers. Replies carry the request id, so
a reply left over from an interrupted earlier request is skipped.
"""

from __future__ import annotations

import base64
import fcntl
import os
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

PING_INTERVAL_S = 0.5
PING_RESEND_S = 3.0  # QEMU holds host->guest bytes until the guest opens its port


class AgentError(RuntimeError):
    """The agent did not answer in time (VM not booted, or hung)."""


class AgentGone(AgentError):
    """QEMU closed the channel: the VM stopped; waiting longer cannot help."""


@dataclass
class RunResult:
    exit_code: int
    output: str
    duration_s: float

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


@contextmanager
def _channel(sock_path: Path, timeout_s: float) -> Iterator[socket.socket]:
    lock_fd = os.open(f"{sock_path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.settimeout(timeout_s)
            try:
                s.connect(str(sock_path))
            except OSError as exc:
                raise AgentError(f"agent socket {sock_path}: {exc} (is the VM running?)") from exc
            yield s
        finally:
            s.close()
    finally:
        os.close(lock_fd)


class _Lines:
    def __init__(self, s: socket.socket, deadline: float):
        self.s, self.deadline, self.buf = s, deadline, b""

    def next(self) -> str | None:
        """The next line, or None once the deadline passes."""
        while b"\n" not in self.buf:
            left = self.deadline - time.monotonic()
            if left <= 0:
                return None
            self.s.settimeout(min(left, PING_INTERVAL_S))
            try:
                chunk = self.s.recv(65536)
            except TimeoutError:
                return ""
            if not chunk:
                raise AgentGone("agent channel closed by QEMU (VM stopped?)")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode(errors="replace").strip()


def _send_quietly(s: socket.socket, data: bytes) -> None:
    """A ping that cannot be queued now (guest not reading yet) is simply retried."""
    s.settimeout(PING_INTERVAL_S)
    try:
        s.sendall(data)
    except TimeoutError:
        pass


def _handshake(s: socket.socket, lines: _Lines, what: str) -> None:
    """Ping on this connection until the agent answers.

    The guest closes its port end whenever a read sees the host gone, and the
    guest kernel discards bytes that arrived just before that close: a request
    sent blind on a fresh connection can vanish. A PONG proves the guest reads
    this connection, so what follows it is delivered.
    """
    token = uuid.uuid4().hex[:8]
    last_ping = -PING_RESEND_S
    while True:
        if time.monotonic() - last_ping >= PING_RESEND_S:
            _send_quietly(s, f"PING {token}\n".encode())
            last_ping = time.monotonic()
        line = lines.next()
        if line is None:
            raise AgentError(f"agent at {what} did not answer")
        if line == f"PONG {token}":
            return


def wait_ready(sock_path: Path, timeout_s: float = 60.0) -> float:
    """Ping until the agent answers; returns seconds waited."""
    start = time.monotonic()
    deadline = start + timeout_s
    while not Path(sock_path).exists():
        if time.monotonic() > deadline:
            raise AgentError(f"agent socket {sock_path} never appeared")
        time.sleep(0.1)
    with _channel(sock_path, timeout_s) as s:
        try:
            _handshake(s, _Lines(s, deadline), str(sock_path))
        except AgentError as exc:
            raise AgentError(f"{exc} in {timeout_s:.0f} s") from exc
        return time.monotonic() - start


def run_command(sock_path: Path, command: str, timeout_s: float = 120.0) -> RunResult:
    """Run `command` with sh in the guest; exit code and stdout+stderr come back.
    The guest kills it after `timeout_s` (exit code 143, like timeout(1))."""
    start = time.monotonic()
    req = uuid.uuid4().hex[:8]
    payload = base64.b64encode(command.encode()).decode()
    with _channel(sock_path, timeout_s + 30) as s:
        lines = _Lines(s, start + timeout_s + 30)
        _handshake(s, lines, str(sock_path))
        s.sendall(f"RUN {req} {int(timeout_s)} {payload}\n".encode())
        body: list[str] | None = None
        while True:
            line = lines.next()
            if line is None:
                raise AgentError(f"no answer to run-command within {timeout_s + 30:.0f} s")
            if line == f"BEGIN {req}":
                body = []
            elif line.startswith(f"END {req} ") and body is not None:
                output = base64.b64decode("".join(body)).decode(errors="replace")
                return RunResult(int(line.split()[2]), output, time.monotonic() - start)
            elif body is not None and line:
                body.append(line)
