"""The result of one verification check: what was expected, what was measured."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Verdict = Literal["pass", "fail", "skipped", "error", "inconclusive"]
# pass: the spec holds. fail: it does not. skipped: nothing to measure here (no
# RDMA NIC in the embedded lab). error: the check itself broke. inconclusive:
# the check measured but the rig cannot judge (e.g. the host was too busy for
# a slow result to mean anything); `measured` says why. Only pass and skipped
# count as passed: an inconclusive run is not a baseline for `lab regress`.
VERDICTS: tuple[Verdict, ...] = ("pass", "fail", "skipped", "error", "inconclusive")


@dataclass
class CheckResult:
    """One check. `metrics` holds numeric samples that `lab regress` compares
    across runs (name -> list of samples); `evidence` is a file path (pcap, fio
    JSON) or a short text a person can follow up."""

    name: str
    group: str
    target: str
    measured: str
    verdict: Verdict
    evidence: str = ""
    metrics: dict[str, list[float]] = field(default_factory=dict)
    duration_s: float = 0.0

    @property
    def passed(self) -> bool:
        return self.verdict in ("pass", "skipped")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
