"""`lab bench cli`: how long the command line takes to start, against a bare
`python -c pass` measured in the same run (so a slow or busy machine shows
in the baseline, not as a regression of ours).

Each command runs `--runs` times in turn (interleaved, so a burst of load
hits all of them alike); the median is reported, with its ratio to the
baseline and whether it is under the target (0.5 s for --help and validate:
a verb must not import pydantic, pyroute2 or scipy before it is chosen).
The installed `lab` script is timed too (its entry point, not `python -m`),
and one shell completion (<TAB> after `lab fault inject`), which runs on
every key press and reads files instead of importing the fault modules.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from lab.cli.common import Format, emit, fail, out

ROOT = Path(__file__).resolve().parents[2]
TARGET_S = 0.5


COMPLETION = {"_LAB_COMPLETE": "complete_bash", "COMP_WORDS": "lab fault inject ", "COMP_CWORD": "3"}


def installed_script() -> Path | None:
    """The `lab` console script of this Python's environment (else on PATH)."""
    beside = Path(sys.executable).with_name("lab")
    found = beside if beside.is_file() else (Path(p) if (p := shutil.which("lab")) else None)
    return found


def _children_cpu() -> float:
    """CPU seconds (user + system) of the children waited for so far: on a
    busy host the wall time grows with the queue, the CPU time much less."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _cases(topology: Path) -> dict[str, tuple[list[str], dict[str, str]]]:
    lab = [sys.executable, "-m", "lab"]
    cases = {"python -c pass": ([sys.executable, "-c", "pass"], {}), "lab --help": ([*lab, "--help"], {}),
             "lab validate": ([*lab, "validate", str(topology)], {})}
    script = installed_script()
    if script is not None:
        cases["lab --help (script)"] = ([str(script), "--help"], {})
    cases["lab <TAB> (completion)"] = (lab, COMPLETION)
    return cases


def measure(runs: int, topology: Path) -> dict[str, Any]:
    import statistics

    cases = _cases(topology)
    times: dict[str, list[float]] = {name: [] for name in cases}
    cpu: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(runs):
        for name, (argv, env) in cases.items():
            c0, t0 = _children_cpu(), time.perf_counter()
            proc = subprocess.run(argv, capture_output=True, check=False, timeout=60, cwd=ROOT,
                                  env={**os.environ, **env})
            times[name].append(time.perf_counter() - t0)
            cpu[name].append(_children_cpu() - c0)
            if proc.returncode != 0 or (env and not proc.stdout.strip()):
                raise RuntimeError(f"{name} exited {proc.returncode} (output {len(proc.stdout)} bytes): "
                                   f"{proc.stderr.decode()[-300:]}")
    base = statistics.median(times["python -c pass"])
    rows = [{"command": name, "median_s": round(statistics.median(ts), 4), "min_s": round(min(ts), 4),
             "cpu_s": round(statistics.median(cpu[name]), 4),
             "ratio": round(statistics.median(ts) / base, 1) if base else None,
             "target_s": None if name.startswith("python") else TARGET_S,
             "ok": name.startswith("python") or statistics.median(ts) < TARGET_S}
            for name, ts in times.items()]
    script = installed_script()
    return {"runs": runs, "baseline_s": round(base, 4), "commands": rows, "ok": all(r["ok"] for r in rows),
            "script": str(script) if script else None}


def bench_cli(runs: Annotated[int, typer.Option("--runs", min=1, max=50, help="Runs of each command")] = 5,
              topology: Annotated[Path, typer.Option(help="Topology that `lab validate` reads")] =
              ROOT / "topologies" / "embedded.yaml",
              fmt: Format = "table") -> None:
    """Time `lab --help`, `lab validate`, the installed script and a completion
    against `python -c pass` (exit 1 when one is above 0.5 s)."""
    if not topology.is_file():
        raise fail(f"--topology {topology}: no such file")
    result = measure(runs, topology)
    if fmt == "json":
        emit(result, "json")
    else:
        for r in result["commands"]:
            target = f" (target < {r['target_s']} s: {'ok' if r['ok'] else 'SLOW'})" if r["target_s"] else ""
            out.print(f"{r['command']:<24} median {r['median_s']:.3f} s (CPU {r['cpu_s']:.3f} s), "
                      f"{r['ratio']}x python{target}", soft_wrap=True,
                      highlight=False)
        if result["script"] is None:
            out.print("the installed lab script was not found (scripts/install-deps.sh installs it)")
    if not result["ok"]:
        raise typer.Exit(1)
