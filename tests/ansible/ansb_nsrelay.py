"""ssh ProxyCommand: relay stdin/stdout to HOST PORT, run inside a lab namespace.

Used as `nsenter --net=/run/netns/NS python3 ansb_nsrelay.py %h %p`, so the
controller reaches a VM whose NIC lives in a lab namespace without any route
between that namespace and the host.
"""

import os
import selectors
import socket
import sys

CLOSE_WAIT_S = 10


def main() -> None:
    sock = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
    sock.settimeout(None)
    sel = selectors.DefaultSelector()
    sel.register(0, selectors.EVENT_READ)
    sel.register(sock, selectors.EVENT_READ)
    closing = False
    while True:
        # once ssh has gone, the VM gets a few seconds to close its end: a destroyed
        # VM never answers, and the relay must not outlive it
        events = sel.select(timeout=CLOSE_WAIT_S if closing else None)
        if not events:
            return
        for key, _ in events:
            if key.fileobj == 0:
                data = os.read(0, 65536)
                if not data:
                    sock.shutdown(socket.SHUT_WR)
                    sel.unregister(0)
                    closing = True
                    continue
                sock.sendall(data)
            else:
                data = sock.recv(65536)
                if not data:
                    return
                os.write(1, data)


if __name__ == "__main__":
    main()
