"""What a `lab` command's exit status means: one number a scheduler can act on.

A nightly timer (systemd, cron, CI) only sees the exit status, so each kind of
outcome gets its own: the lab is wrong (1), the caller is wrong (2), the lab
got worse (3), or the rig itself could not tell (4). When a run has several,
the most definite finding wins: a spec not met (1) over "could not measure"
(4) over a regression (3) -- a regression is only claimed when every check
measured and met its spec.

1 is a verdict about the lab, never about the run: `lab up`/`down` finding
the lab locked by another run, or a namespace the plan needs owned by someone
else, is 4 (the rig could not act: retry later, or clear the host), not 1
(nothing was measured) and not 2 (the topology is valid; the same file works
on a host that is ready for it).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    SPEC_NOT_MET = 1
    BAD_INPUT = 2
    REGRESSION = 3
    CANNOT_MEASURE = 4


# Verdicts that say the check measured and the spec holds (skipped: the lab
# has nothing to measure there, e.g. no RDMA NIC in the embedded lab).
MET = frozenset({"pass", "skipped"})
NOT_MET = frozenset({"fail"})

HELP = ("Exit status: 0 all good; 1 a spec not met; 2 bad input; 3 a regression "
        "against the baseline (every spec met); 4 the rig could not measure or act (lab not "
        "up, needs root, missing component, a check error or an inconclusive check, the lab "
        "locked by another run, a namespace it needs owned by someone else).")


def for_verdicts(verdicts: Iterable[str], regressed: bool = False, unjudged: bool = False) -> ExitCode:
    """The exit status of a run from its check verdicts and its regress outcome.
    Any verdict other than pass/skipped/fail (error, inconclusive, one this
    code does not know yet) means the rig could not judge: 4; so does a
    metric regress could not compare (`unjudged`: measured on a busy host)."""
    seen = set(verdicts)
    if seen & NOT_MET:
        return ExitCode.SPEC_NOT_MET
    if seen - MET - NOT_MET or unjudged:
        return ExitCode.CANNOT_MEASURE
    return ExitCode.REGRESSION if regressed else ExitCode.OK


class CannotActError(RuntimeError):
    """The rig cannot act on what it found (not a bug): the command prints the
    message as it is, without "crashed", and exits 4."""

