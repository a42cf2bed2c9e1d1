"""Entering a namespace never creates it: a check or teardown that runs after
`lab down` must fail (and be reported), not leave an empty namespace behind."""

from __future__ import annotations

import pytest

from lab.apply.netns import inside, namespace_exists
from lab.lb import hostside, loader

pytestmark = pytest.mark.root
GONE = "stacklab-test.gone"


def test_entering_a_missing_namespace_fails_and_creates_nothing():
    with pytest.raises(FileNotFoundError, match=GONE), inside(GONE):
        pass
    with pytest.raises(FileNotFoundError), loader.netlink(GONE):
        pass
    with pytest.raises(FileNotFoundError):
        hostside.set_tx_checksum(GONE, "eth0", True)
    assert not namespace_exists(GONE)


def test_threads_inside_namespaces_at_once_each_return_to_their_own():
    """The main thread and workers enter namespaces at the same time, leaving
    in another order than they came: each ends where it started (with one
    stack shared by all threads, the main thread was left in a lab namespace)."""
    import os
    import threading

    from pyroute2 import netns

    names = ["stacklab-test.ta", "stacklab-test.tb"]
    for n in names:
        netns.create(n)
    try:
        own = os.readlink("/proc/thread-self/ns/net")
        entered, leave = threading.Event(), threading.Event()
        seen: list[bool] = []

        def worker() -> None:
            mine = os.readlink("/proc/thread-self/ns/net")
            with inside(names[1]):
                entered.set()
                leave.wait(10)
            seen.append(os.readlink("/proc/thread-self/ns/net") == mine)

        with inside(names[0]):
            t = threading.Thread(target=worker)
            t.start()
            entered.wait(10)  # the worker entered after the main thread
        leave.set()  # ... and leaves after it
        t.join(10)
        assert os.readlink("/proc/thread-self/ns/net") == own
        assert seen == [True]
    finally:
        for n in names:
            netns.remove(n)
