"""`lab bench cli`: how long the command line takes to start, against a bare
`python -c pass` measured in the same run (so a slow or busy machine shows
in the baseline, not as a regression of ours).

Each command runs `--runs` times in turn (interleaved, so a burst of load
hits all of them alike); the median is reported, with its ratio to the
baseline and whether it is under the target (0.5 s for --help and validate:
a verb must not import pydantic, pyroute2 or scipy before it is chosen).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from lab.cli.common import Format, emit, fail, out

ROOT = Path(__file__).resolve().parents[2]
TARGET_S = 0.5


def _cases(topology: Path) -> dict[str, list[str]]:
    lab = [sys.executable, "-m", "lab"]
    return {"python -c pass": [sys.executable, "-c", "pass"], "lab --help": [*lab, "--help"],
            "lab validate": [*lab, "validate", str(topology)]}


def measure(runs: int, topology: Path) -> dict[str, Any]:
    cases = _cases(topology)
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(runs):
        for name, argv in cases.items():
            t0 = time.perf_counter()
            proc = subprocess.run(argv, capture_output=True, check=False, timeout=60, cwd=ROOT)
            times[name].append(time.perf_counter() - t0)
            if proc.returncode != 0:
                raise RuntimeError(f"{name} exited {proc.returncode}: {proc.stderr.decode()[-300:]}")
    base = statistics.median(times["python -c pass"])
    rows = [{"command": name, "median_s": round(statistics.median(ts), 4), "min_s": round(min(ts), 4),
             "ratio": round(statistics.median(ts) / base, 1) if base else None,
             "target_s": None if name.startswith("python") else TARGET_S,
             "ok": name.startswith("python") or statistics.median(ts) < TARGET_S}
            for name, ts in times.items()]
    return {"runs": runs, "baseline_s": round(base, 4), "commands": rows, "ok": all(r["ok"] for r in rows)}


def bench_cli(runs: Annotated[int, typer.Option("--runs", min=1, max=50, help="Runs of each command")] = 5,
              topology: Annotated[Path, typer.Option(help="Topology that `lab validate` reads")] =
              ROOT / "topologies" / "embedded.yaml",
              fmt: Format = "table") -> None:
    """Time `lab --help` and `lab validate` against `python -c pass` (exit 1 above 0.5 s)."""
    if not topology.is_file():
        raise fail(f"--topology {topology}: no such file")
    result = measure(runs, topology)
    if fmt == "json":
        emit(result, "json")
    else:
        for r in result["commands"]:
            target = f" (target < {r['target_s']} s: {'ok' if r['ok'] else 'SLOW'})" if r["target_s"] else ""
            out.print(f"{r['command']:<16} median {r['median_s']:.3f} s, {r['ratio']}x python{target}",
                      highlight=False)
    if not result["ok"]:
        raise typer.Exit(1)
