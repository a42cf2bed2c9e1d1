"""The result of one verification check: what was expected, what was measured."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Verdict = Literal["pass", "fail", "skipped", "error"]


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
