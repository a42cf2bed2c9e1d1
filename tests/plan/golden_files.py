"""Golden files (netlab-style): what a topology turns into, kept under review.
`make golden` sets STACKLAB_REGEN_GOLDEN=1 and the tests rewrite them."""

from __future__ import annotations

import os
from pathlib import Path


def assert_matches_golden(golden: Path, text: str, what: str) -> None:
    """`text` is `golden`'s content; with STACKLAB_REGEN_GOLDEN=1 it becomes it."""
    if os.environ.get("STACKLAB_REGEN_GOLDEN") == "1":
        golden.write_text(text)
    assert golden.exists(), f"no golden {what}: run `make golden` and review it"
    assert text == golden.read_text(), f"the {what} changed: review `git diff {golden}` after `make golden`"
