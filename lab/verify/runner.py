"""Run verification checks and record what they found.

A check is any callable returning a CheckResult or a list of them. A check
that raises is not lost: it becomes an `error` result carrying the exception
as evidence, so one broken check never hides the others (Nornir's habit).
Recording a run (JUnit XML, JSON report, history row) is lab.report.runs'
job: verification measures, reporting keeps. Evidence files go to the run's
own directory (lab.verify.evidence), which outlives the lab.
"""

from __future__ import annotations

import json
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from lab.exitcodes import for_verdicts
from lab.lines import fit_name
from lab.verify import evidence
from lab.verify.result import CheckResult

CheckOutput = CheckResult | list[CheckResult]
Check = Callable[[], CheckOutput]

VERDICT_STYLE = {"pass": "green", "fail": "bold red", "error": "bold magenta", "skipped": "yellow",
                 "inconclusive": "bold magenta"}


def named_check(name: str, group: str, fn: Check, target: str = "") -> Check:
    """Attach the name/group a check reports under, so `--only GROUP` can skip it
    before it runs and an exception is attributed to the right check."""
    fn.check_name = name  # type: ignore[attr-defined]
    fn.check_group = group  # type: ignore[attr-defined]
    fn.check_target = target  # type: ignore[attr-defined]
    return fn


def check_identity(check: Check) -> tuple[str, str, str]:
    name = getattr(check, "check_name", None) or getattr(check, "__qualname__", None) or repr(check)
    group = getattr(check, "check_group", None) or "ungrouped"
    return name, group, getattr(check, "check_target", "")


@dataclass
class VerifyRun:
    """The outcome of one `lab verify`; `to_json()` is the `--format json` contract."""

    lab: str
    started_at: float
    duration_s: float
    topology_hash: str
    config: dict[str, Any]
    results: list[CheckResult]
    run_id: int | None = None
    junit_path: Path | None = None
    json_path: Path | None = None
    run_dir: Path | None = None  # junit.xml, report.json and evidence/ of this run
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def exit_code(self) -> int:
        """What `lab verify` exits with for this run (lab.exitcodes)."""
        return int(for_verdicts(r.verdict for r in self.results))

    def to_json(self) -> dict[str, Any]:
        return {"passed": self.passed, "checks": [r.to_json() for r in self.results]}


def run_one(check: Check) -> list[CheckResult]:
    """Run one check, turning an exception into an `error` result; time it."""
    name, group, target = check_identity(check)
    start = time.monotonic()
    try:
        output = check()
        results = [output] if isinstance(output, CheckResult) else list(output)
        if not all(isinstance(r, CheckResult) for r in results):
            raise TypeError(f"check {name} returned {type(output).__name__}, not CheckResult")
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - a broken check is a result, not a crash
        tb = traceback.extract_tb(exc.__traceback__)[-1:]
        where = f" ({tb[0].filename}:{tb[0].lineno})" if tb else ""
        results = [CheckResult(name=name, group=group, target=target, measured="exception",
                               verdict="error", evidence=f"{type(exc).__name__}: {exc}{where}")]
    elapsed = time.monotonic() - start
    if len(results) == 1 and not results[0].duration_s:
        results[0].duration_s = elapsed
    elif results and not any(r.duration_s for r in results):
        for r in results:
            r.duration_s = elapsed / len(results)
    return results


def select(checks: Iterable[Check], only: Sequence[str] | None) -> list[Check]:
    """Keep checks of the given groups; undeclared ones run and are filtered after."""
    if not only:
        return list(checks)
    return [c for c in checks if getattr(c, "check_group", None) in (None, *only)]


def run_checks(checks: Iterable[Check], lab: str, topology_hash: str, config: dict[str, Any], *,
               only: Sequence[str] | None = None, console: Console | None = None,
               run_dir: Path | None = None) -> VerifyRun:
    """Run the checks (those of the `only` groups); returns the run. With
    `run_dir`, evidence is kept in run_dir/evidence. Progress goes to
    `console` (stderr): a bar on a terminal, one line per check otherwise
    (a journal). Recording the run is lab.report.runs' job."""
    console = console or Console(stderr=True)
    todo = select(checks, only)
    started_at, t0 = time.time(), time.monotonic()
    results: list[CheckResult] = []
    kept = run_dir / "evidence" if run_dir else None
    moved: dict[str, str] = {}
    with _progress(console, len(todo)) as step, (
            evidence.kept_in(kept) if kept else nullcontext()):
        for check in todo:
            name, group, _ = check_identity(check)
            step(f"{group}: {name}")
            found = [r for r in run_one(check) if not only or r.group in only]
            if kept:
                evidence.adopt(found, lab, kept, moved)
            results.extend(found)
    results += name_clashes(results)
    return VerifyRun(lab=lab, started_at=started_at, duration_s=time.monotonic() - t0,
                     topology_hash=topology_hash, config=config, results=results, run_dir=run_dir)


def name_clashes(results: list[CheckResult]) -> list[CheckResult]:
    """One `error` result per group in which two results share a name: history,
    JUnit and the exporter key results by name, so one would hide the other."""
    counts = Counter((r.group, r.name) for r in results)
    clashes: dict[str, list[str]] = {}
    for (group, name), n in counts.items():
        if n > 1:
            clashes.setdefault(group, []).append(f"{name} ({n} results)")
    return [CheckResult(name=f"{group}.results.unique_names", group=group, target="one result per name",
                        measured="shared names: " + ", ".join(names), verdict="error",
                        evidence="a rig bug: each measurement must be named apart")
            for group, names in sorted(clashes.items())]


@contextmanager
def _progress(console: Console, total: int) -> Iterator[Callable[[str], None]]:
    """A progress bar on a terminal; without one (systemd, cron) a line per
    step as it starts, so a hung check is named in the journal."""
    if not console.is_terminal:
        count = iter(range(1, total + 1))

        def line(description: str) -> None:
            console.print(fit_name(f"verify {next(count)}/{total}: {description}", console.width),
                          markup=False, highlight=False, soft_wrap=True)
        yield line
        return
    with Progress(SpinnerColumn(), TextColumn("[progress.description]{task.description}"),
                  BarColumn(), TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
                  console=console, transient=True) as progress:
        task = progress.add_task("verify", total=total)
        started = False

        def advance(description: str) -> None:
            nonlocal started
            if started:
                progress.advance(task)
            started = True
            progress.update(task, description=escape(description))
        yield advance


# Tools whose version is recorded with every run, so `lab regress` can say
# "fio 3.33 -> 3.35" next to a regression. (command, args, how to find it)
VERSION_PROBES: dict[str, tuple[str, ...]] = {
    "fio": ("fio", "--version"),
    "qemu": ("qemu-system-x86_64", "--version"),
    "libvirt": ("libvirtd", "--version"),
    "clang": ("clang", "--version"),
    "frr": ("/usr/lib/frr/zebra", "--version"),
    "bpftool": ("bpftool", "version"),
    "iproute2": ("ip", "-V"),
}


def topology_hash(topology: Any) -> str:
    """Short stable hash of a (pydantic) topology: same lab description, same hash."""
    import hashlib

    data = topology.model_dump(mode="json") if hasattr(topology, "model_dump") else topology
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def run_config(extra: dict[str, Any] | None = None, probes: dict[str, tuple[str, ...]] | None = None,
               timeout_s: float = 5.0) -> dict[str, Any]:
    """What the lab ran on: kernel, host, Python, stacklab and tool versions (first
    line of each `--version`; absent tools are left out), plus `extra`."""
    import platform
    import shutil
    import subprocess
    from importlib.metadata import PackageNotFoundError, version

    try:
        stacklab = version("stacklab")
    except PackageNotFoundError:
        stacklab = "unknown"
    versions: dict[str, str] = {"stacklab": stacklab, "python": platform.python_version()}
    for name, argv in (VERSION_PROBES if probes is None else probes).items():
        if shutil.which(argv[0]) is None:
            continue
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s, check=False)
        except (OSError, subprocess.TimeoutExpired):
            continue
        lines = (done.stdout or done.stderr).strip().splitlines()
        if lines:
            versions[name] = lines[0].strip()
    return {"kernel": platform.release(), "machine": platform.machine(), "host": platform.node(),
            "versions": versions, **(extra or {})}
