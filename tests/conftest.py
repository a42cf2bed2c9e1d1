"""Shared test setup: an isolated state directory, and the root policy.

Tests marked `root` need real namespaces (and often libvirt/QEMU/BPF). In CI
(CI set) they always run, and fail loudly if something is missing; on a
developer machine without root they skip and say why.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

IN_CI = bool(os.environ.get("CI"))
IS_ROOT = os.geteuid() == 0


_CREATED_HOME: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    if "STACKLAB_HOME" not in os.environ:
        os.environ["STACKLAB_HOME"] = tempfile.mkdtemp(prefix="stacklab-test-")
        _CREATED_HOME.append(os.environ["STACKLAB_HOME"])


def pytest_unconfigure(config: pytest.Config) -> None:
    for path in _CREATED_HOME:
        shutil.rmtree(path, ignore_errors=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if IS_ROOT or IN_CI:
        return
    skip = pytest.mark.skip(reason="needs root for network namespaces (runs in CI as root)")
    for item in items:
        if "root" in item.keywords:
            item.add_marker(skip)


def _own_namespace() -> str:
    return os.readlink("/proc/thread-self/ns/net")


@pytest.fixture(autouse=True)
def _test_leaves_the_runner_in_its_namespace():
    """A test (or the code it calls in-process) that leaves pytest's thread in
    a lab namespace makes every later `lab` subprocess start there: libvirtd's
    taps, made in the host's namespace, are then "nowhere" to it. Fail the
    test that did it, and put the runner back, so the rest of the run holds."""
    before = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    here = _own_namespace()
    try:
        yield
        after = _own_namespace()
        if after != here:
            from pyroute2 import netns

            netns.setns(before, flags=0)
            pytest.fail(f"the test left the test runner in network namespace {after} (it was in {here})")
    finally:
        os.close(before)
