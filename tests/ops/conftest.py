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
    lab_cli("up", str(TOPOLOGY), timeout=900)  # the first up may build the guest image
    try:
        yield TOPOLOGY
    finally:
        lab_cli("down", "--lab", LAB, check=False)


def verdicts(group: str, checks: tuple[str, ...]) -> list[str]:
    """The verdicts of these checks in one `lab verify --only GROUP`."""
    import json

    proc = lab_cli("verify", str(TOPOLOGY), "--only", group, "--format", "json", check=False, timeout=600)
    found = {c["name"]: c for c in json.loads(proc.stdout)["checks"]}
    for name in checks:  # a failing test shows what each check saw
        print(name, found[name]["verdict"], found[name]["measured"], found[name]["evidence"])
    return [found[name]["verdict"] for name in checks]


def fault_flips_check(fault: str, group: str, check: str, while_injected=None) -> None:
    """The check passes, fails with the fault injected, passes once cleared."""

    def verdict() -> str:
        return verdicts(group, (check,))[0]

    assert verdict() == "pass"
    lab_cli("fault", "inject", fault, str(TOPOLOGY))
    try:
        assert verdict() == "fail"
        if while_injected is not None:
            while_injected()
    finally:
        lab_cli("fault", "clear", str(TOPOLOGY))
    assert verdict() == "pass"
