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
