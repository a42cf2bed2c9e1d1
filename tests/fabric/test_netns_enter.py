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
