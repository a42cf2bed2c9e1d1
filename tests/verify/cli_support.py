"""A lab that looks up to `lab verify` without creating anything: the plan
saved where `lab up` saves it, and checks chosen by the test, so every exit
status can be reached through the real command line."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import yaml
from typer.testing import CliRunner

from lab.cli import app
from lab.model import load_topology
from lab.paths import lab_dir
from lab.plan.planner import build_plan
from lab.providers.state import write_json
from lab.verify.result import CheckResult
from lab.verify.runner import named_check

TINY = {
    "name": "nx",
    "underlay": {"subnet": "198.18.0.0/24"},
    "tor": {"name": "tor"},
    "external": {"subnet": "198.51.100.0/24", "vip_pool": "192.0.2.0/24"},
    "servers": [{"name": "hv1", "role": "compute", "nics": [{"name": "eth0", "speed_gbps": 25}]},
                {"name": "hv2", "role": "compute", "nics": [{"name": "eth0", "speed_gbps": 25}]}],
    "tenants": [{"name": "red", "vni": 1001, "subnets": [{"name": "web", "prefix": "100.64.1.0/24"}]}],
    "vms": [{"name": "red-a", "tenant": "red", "subnet": "web", "server": "hv1", "kind": "netns",
             "address": "100.64.1.10"},
            {"name": "red-b", "tenant": "red", "subnet": "web", "server": "hv2", "kind": "netns",
             "address": "100.64.1.11"}],
}
runner = CliRunner()


def tiny_topology(directory: Path) -> Path:
    path = directory / "nx.yaml"
    path.write_text(yaml.safe_dump(TINY, sort_keys=False))
    return path


def mark_up(topology: Path) -> None:
    """Save the plan where `lab up` does; no namespace is created."""
    plan = build_plan(load_topology(topology))
    write_json(lab_dir(plan.lab) / "plan.json", plan.model_dump(mode="json"))


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def check(name: str, verdict: str, metrics: dict[str, list[float]] | None = None,
          evidence: str = "") -> Callable[[], CheckResult]:
    """A check named like the real ones (<group>.<subject>.<what>) that reports `verdict`."""
    group = name.split(".", 1)[0]

    def measure() -> CheckResult:
        return CheckResult(name, group, "spec", f"{verdict} measured", verdict, evidence,
                           dict(metrics or {}))
    return named_check(name, group, measure)


# differ between two renders of the same command: paths, run ids, timings
VOLATILE = re.compile(r"/\S*|#\d+|[\d.]+")
COMMAND_MODULES = ("lab.cli.verify", "lab.cli.report", "lab.cli.lifecycle")


def as_journal(monkeypatch, width: int) -> None:
    """The commands print as under systemd: no terminal, `width` columns."""
    from rich.console import Console

    for module in COMMAND_MODULES:
        monkeypatch.setattr(f"{module}.out", Console(width=width, force_terminal=False, color_system=None))
        monkeypatch.setattr(f"{module}.console", Console(width=width, force_terminal=False,
                                                         color_system=None, stderr=True))


def assert_reads_in_a_journal(narrow: str, wide: str, width: int = 80) -> None:
    """`narrow` (rendered at `width`) has no longer line and no word cut in
    two: each word is one of `wide` (the same output with room for all), or
    a cut marked with "…" at a word or name boundary."""
    vocabulary = set(wide.split())
    for line in narrow.splitlines():
        assert len(line) <= width, f"{len(line)} > {width}: {line!r}"
        for word in line.split():
            if word in vocabulary or word == "…" or VOLATILE.fullmatch(word):
                continue
            assert word.endswith("…") and any(v.startswith(word[:-1]) for v in vocabulary), (
                f"word split: {word!r} in {line!r}")
