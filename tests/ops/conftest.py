"""One running netns-only lab (tests/ops/ops.yaml, lab `opsl`) shared by the
lifecycle-host tests, torn down at the end of the session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fabric.helpers import lab_cli

TOPOLOGY = Path(__file__).with_name("ops.yaml")
LAB = "opsl"


@pytest.fixture(scope="session")
def ops_lab() -> Iterator[Path]:
    lab_cli("down", "--lab", LAB, check=False)
    lab_cli("up", str(TOPOLOGY))
    try:
        yield TOPOLOGY
    finally:
        lab_cli("down", "--lab", LAB, check=False)


def fault_flips_check(fault: str, group: str, check: str, while_injected=None) -> None:
    """The check passes, fails with the fault injected, passes once cleared."""
    import json

    def verdict() -> str:
        proc = lab_cli("verify", str(TOPOLOGY), "--only", group, "--format", "json", check=False)
        return next(c["verdict"] for c in json.loads(proc.stdout)["checks"] if c["name"] == check)

    assert verdict() == "pass"
    lab_cli("fault", "inject", fault, str(TOPOLOGY))
    try:
        assert verdict() == "fail"
        if while_injected is not None:
            while_injected()
    finally:
        lab_cli("fault", "clear", str(TOPOLOGY))
    assert verdict() == "pass"
