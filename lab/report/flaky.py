"""How a check's verdict behaved over recent nights: flaky, or failing in a row.

Pure functions over one check's verdicts, oldest first (None where the check
was not in a run). Used by the HTML report (flaky marker) and the exporter
(stacklab_check_consecutive_failures, which the "failing N nights" alert reads).

What counts as a change: the outcome, not the verdict string. pass and
skipped both mean "nothing wrong was seen", fail and error both mean "the spec
was not shown to hold", so pass -> skipped (an RDMA card missing one night)
is not flapping, while pass -> fail -> pass is. Runs where the check was
absent are left out rather than counted as a change.

Defaults: a check is flaky when its outcome changed in at least
FLAKY_CHANGES (3) of the last FLAKY_RUNS (10) runs: one change is a fix or a
regression, two can be a fix that was reverted, three in ten nights is a test
or a lab that cannot be trusted.
"""

from __future__ import annotations

from collections.abc import Sequence

FLAKY_CHANGES = 3
FLAKY_RUNS = 10
FAILED_VERDICTS = frozenset({"fail", "error"})


def failed(verdict: str) -> bool:
    return verdict in FAILED_VERDICTS


def outcome_changes(verdicts: Sequence[str | None], last: int = FLAKY_RUNS) -> int:
    """How often the outcome flipped between consecutive runs among the last `last` runs."""
    seen = [failed(v) for v in verdicts[-last:] if v is not None] if last > 0 else []
    return sum(a != b for a, b in zip(seen, seen[1:], strict=False))


def is_flaky(verdicts: Sequence[str | None], changes: int = FLAKY_CHANGES,
             runs: int = FLAKY_RUNS) -> bool:
    """True when the outcome changed in at least `changes` of the last `runs` runs."""
    if changes < 1 or runs < 2:
        raise ValueError(f"flaky needs changes >= 1 and runs >= 2 (got changes={changes}, "
                         f"runs={runs})")
    return outcome_changes(verdicts, runs) >= changes


def consecutive_failures(verdicts: Sequence[str | None]) -> int:
    """Runs in a row, ending with the newest, in which the check failed or errored.
    A run without the check ends the streak: nothing is known about that night."""
    streak = 0
    for verdict in reversed(verdicts):
        if verdict is None or not failed(verdict):
            break
        streak += 1
    return streak
