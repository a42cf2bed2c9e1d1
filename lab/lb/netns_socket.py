"""Sockets created inside a lab namespace from a normal process.

setns(2) changes only the calling thread, so a short-lived thread enters the
namespace, creates the socket and exits; the socket stays bound to that
namespace for its whole life. Used by health probes (from the tenant gateway,
which reaches every tenant address) and by the live tests' clients.
"""

from __future__ import annotations

import socket
import threading

from pyroute2 import netns


def socket_in(namespace: str, family: int = socket.AF_INET,
              kind: int = socket.SOCK_STREAM) -> socket.socket:
    result: list[socket.socket | BaseException] = []

    def make() -> None:
        try:
            netns.setns(namespace, flags=0)
            result.append(socket.socket(family, kind))
        except BaseException as exc:  # handed to the caller below
            result.append(exc)

    t = threading.Thread(target=make, name=f"netns-{namespace}", daemon=True)
    t.start()
    t.join()
    item = result[0]
    if isinstance(item, BaseException):
        raise item
    return item
