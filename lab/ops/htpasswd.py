"""Basic authentication against a bcrypt htpasswd file, read on every
request, accepting any line that matches the user.

Reading per request lets a rotation take effect without restarting the
server; accepting every matching line lets a rotation overlap old and new
credentials (lab.ops.secrets: verifier with both, clients switched, then
the old line removed), so no client is refused at any moment. sushy-tools'
own check stops at the first line of a user, so the BMC emulator uses this
one too (lab.ops.bmc_server), as does the Prometheus exporter.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import bcrypt

REALM = "stacklab"


def entries(secrets: Iterable[tuple[str, str]], rounds: int = 8) -> str:
    """htpasswd text for (user, password) pairs."""
    return "".join(f"{user}:{bcrypt.hashpw(pw.encode(), bcrypt.gensalt(rounds=rounds)).decode()}\n"
                   for user, pw in secrets)


def check(auth_file: str | Path, username: str, password: bytes) -> bool:
    try:
        lines = Path(auth_file).read_text().splitlines()
    except OSError:
        return False
    for line in lines:
        user, _, digest = line.strip().partition(":")
        if user == username and digest.startswith("$2"):
            try:
                if bcrypt.checkpw(password, digest.encode()):
                    return True
            except ValueError:
                continue
    return False


def credentials(environ: dict[str, Any]) -> tuple[str, bytes] | None:
    header = environ.get("HTTP_AUTHORIZATION", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(token.strip()).partition(b":")
    except (binascii.Error, ValueError):
        return None
    return (user.decode(errors="replace"), password) if sep else None


class BasicAuth:
    """WSGI middleware: 401 unless the request's credentials match a line."""

    def __init__(self, app: Callable, auth_file: str | Path):
        self.app, self.auth_file = app, auth_file

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        creds = credentials(environ)
        if creds is not None and check(self.auth_file, *creds):
            return self.app(environ, start_response)
        start_response("401 Unauthorized", [("WWW-Authenticate", f'Basic realm="{REALM}"'),
                                            ("Content-Type", "text/plain")])
        return [b"unauthorized\n"]
