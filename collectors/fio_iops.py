#!/usr/bin/env python3
"""fio IOPS collector: 4k random read and write, direct I/O, one JSON result.

Standalone (standard library only, no `lab` import): copy it to a host and run
`python3 fio_iops.py --target /dev/sdb`. Guests without Python run the shell
script from `guest_script()` through run-command and the host parses its
output with `parse_guest_output()` and `summarize()`.

Why a per-second series: QEMU's throttle lets a short burst through before it
settles, and fio's own average hides that. The series (fio's IOPS log averaged
over 1 s windows, ramp time excluded) gives the steady-state IOPS (the windows
after `settle` seconds, the last window excluded) and the peak 1-second window.
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

RWS = ("randread", "randwrite")
PERCENTILES = ("50.000000", "90.000000", "99.000000", "99.900000")
MARK = "=== stacklab-fio"


def fio_args(target: str, rw: str, runtime_s: int, ramp_s: int, iodepth: int,
             log_prefix: str, output: str, size: str | None = None) -> list[str]:
    """fio's command line for one pattern; bounded by runtime (time_based)."""
    args = ["fio", f"--name={rw}", f"--filename={target}", f"--rw={rw}", "--bs=4k",
            "--direct=1", "--ioengine=libaio", f"--iodepth={iodepth}", "--time_based",
            f"--runtime={runtime_s}", f"--ramp_time={ramp_s}", "--norandommap",
            "--randrepeat=0", "--group_reporting", "--output-format=json",
            f"--output={output}", f"--write_iops_log={log_prefix}", "--log_avg_msec=1000"]
    if size:
        args.append(f"--size={size}")
    return args


def parse_iops_log(text: str) -> list[float]:
    """fio IOPS log lines 'msec, value, dir, bs, offset' -> IOPS per 1 s window."""
    series = []
    for line in text.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) >= 2 and parts[0].isdigit():
            series.append(float(parts[1]))
    return series


def summarize(rw: str, fio_json: dict, iops_series: list[float], settle_s: int = 1) -> dict:
    """One pattern's result; steady state = mean of the windows between the
    first `settle_s` and the last."""
    job = fio_json["jobs"][0]
    side = job["read" if rw.endswith("read") else "write"]
    pct = side.get("clat_ns", {}).get("percentile", {})
    # the first `settle_s` windows hold the throttle's burst, the last one may
    # be cut short by the job's end: neither is steady state
    if len(iops_series) >= settle_s + 3:
        steady = iops_series[settle_s:-1]
    else:
        steady = iops_series[settle_s:] if len(iops_series) > settle_s + 1 else iops_series
    return {
        "rw": rw,
        "iops": round(side["iops"], 1),
        "bw_kib_s": side["bw"],
        "lat_us": {f"p{float(k):g}": round(pct[k] / 1000, 1) for k in PERCENTILES if k in pct},
        "iops_series": iops_series,
        "steady_iops": round(statistics.fmean(steady), 1) if steady else 0.0,
        "steady_stdev": round(statistics.pstdev(steady), 1) if steady else 0.0,
        "peak_1s_iops": max(iops_series, default=0.0),
        "settle_s": settle_s,
        "runtime_ms": job.get("job_runtime", side.get("runtime")),
        "errors": job.get("error", 0),
    }


def guest_script(target: str, rws: tuple[str, ...] = RWS, runtime_s: int = 8, ramp_s: int = 2,
                 iodepth: int = 4, size: str | None = None) -> str:
    """A sh script that runs fio for each pattern and prints JSON and IOPS log
    between markers, for guests that have fio but no Python."""
    lines = ["cd /tmp || exit 1", "rc=0"]
    for rw in rws:
        args = fio_args(target, rw, runtime_s, ramp_s, iodepth, f"/tmp/sl-{rw}",
                        f"/tmp/sl-{rw}.json", size)
        lines += [f"{shlex.join(args)} || rc=$?",
                  f"echo '{MARK} {rw} json'", f"cat /tmp/sl-{rw}.json",
                  f"echo '{MARK} {rw} log'", f"cat /tmp/sl-{rw}_iops.1.log",
                  f"rm -f /tmp/sl-{rw}.json /tmp/sl-{rw}_iops.*.log"]
    lines.append("exit $rc")
    return "\n".join(lines) + "\n"


def parse_guest_output(text: str) -> dict[str, tuple[dict, list[float]]]:
    """guest_script's output -> {rw: (fio JSON, IOPS series)}."""
    sections: dict[tuple[str, str], list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        if line.startswith(MARK):
            _, _, rw, kind = line.split()
            current = sections.setdefault((rw, kind), [])
        elif current is not None:
            current.append(line)
    result = {}
    for (rw, kind), body in sections.items():
        if kind == "json":
            raw = "\n".join(body)
            result[rw] = (json.loads(raw[raw.index("{"):]),
                          parse_iops_log("\n".join(sections.get((rw, "log"), []))))
    return result


def run_local(target: str, rws: tuple[str, ...] = RWS, runtime_s: int = 8, ramp_s: int = 2,
              iodepth: int = 4, size: str | None = None, settle_s: int = 1) -> dict:
    """Run fio here, one pattern after the other; returns the full result."""
    results = {}
    with tempfile.TemporaryDirectory(prefix="fio-iops.") as tmp:
        for rw in rws:
            out, log = Path(tmp) / f"{rw}.json", Path(tmp) / rw
            args = fio_args(target, rw, runtime_s, ramp_s, iodepth, str(log), str(out), size)
            proc = subprocess.run(args, check=False, capture_output=True, text=True,
                                  timeout=runtime_s + ramp_s + 60, cwd=tmp)
            if proc.returncode != 0:
                raise RuntimeError(f"fio {rw} on {target} failed: {proc.stderr.strip()}")
            series = parse_iops_log(Path(f"{log}_iops.1.log").read_text())
            results[rw] = summarize(rw, json.loads(out.read_text()), series, settle_s)
    return {"target": target, "bs": "4k", "direct": True, "runtime_s": runtime_s,
            "ramp_s": ramp_s, "iodepth": iodepth, "results": results}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", required=True, help="block device or file")
    parser.add_argument("--rw", default=",".join(RWS), help="comma list of randread,randwrite")
    parser.add_argument("--runtime", type=int, default=8, help="seconds per pattern (1-600)")
    parser.add_argument("--ramp", type=int, default=2, help="seconds excluded at start")
    parser.add_argument("--iodepth", type=int, default=4)
    parser.add_argument("--size", default=None, help="file size for file targets, e.g. 256M")
    parser.add_argument("--settle", type=int, default=1, help="windows excluded from steady state")
    args = parser.parse_args(argv)
    rws = tuple(r for r in args.rw.split(",") if r)
    if not 1 <= args.runtime <= 600 or any(r not in RWS for r in rws):
        parser.error(f"--runtime must be 1-600 and --rw a subset of {','.join(RWS)}")
    try:
        result = run_local(args.target, rws, args.runtime, args.ramp, args.iodepth, args.size,
                           args.settle)
    except (RuntimeError, FileNotFoundError, subprocess.TimeoutExpired) as exc:
        print(json.dumps({"target": args.target, "error": str(exc)}))
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
