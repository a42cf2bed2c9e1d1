#!/usr/bin/env python3
"""RDMA bandwidth and latency with perftest (ib_write_bw / ib_write_lat) over
a loopback pair on the first RDMA device. Standalone. Without an RDMA device
it reports `skipped` and why: never a fake pass.

  rdma_perf.py [--device mlx5_0] [--seconds 5]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

SYS_RDMA = Path("/sys/class/infiniband")


def devices() -> list[str]:
    return sorted(p.name for p in SYS_RDMA.iterdir()) if SYS_RDMA.exists() else []


def _pair(tool: str, device: str, seconds: int, port: int) -> str:
    """Run the perftest server and a client against it on this host."""
    base = [tool, "-d", device, "-D", str(seconds), "-p", str(port), "-F"]
    server = subprocess.Popen(base, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        time.sleep(1.0)
        client = subprocess.run([*base, "127.0.0.1"], capture_output=True, text=True, timeout=seconds + 30,
                                check=False)
        server.wait(timeout=seconds + 30)
    finally:
        if server.poll() is None:
            server.kill()
    if client.returncode != 0:
        raise RuntimeError(f"{tool} failed: {(client.stderr or client.stdout).strip()[-300:]}")
    return client.stdout


def _last_row(output: str) -> list[float]:
    rows = [line.split() for line in output.splitlines() if re.match(r"^\s*\d+\s+\d+", line)]
    return [float(x) for x in rows[-1]] if rows else []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device")
    parser.add_argument("--seconds", type=int, default=5)
    args = parser.parse_args(argv)
    if not 1 <= args.seconds <= 60:
        parser.error("--seconds 1..60")
    found = devices()
    result: dict = {"collector": "rdma_perf", "devices": found}
    if not found:
        result["skipped"] = "no RDMA device"
    elif not shutil.which("ib_write_bw"):
        result["skipped"] = "perftest is not installed (ib_write_bw missing)"
    else:
        device = args.device or found[0]
        bw = _last_row(_pair("ib_write_bw", device, args.seconds, 18515))
        lat = _last_row(_pair("ib_write_lat", device, args.seconds, 18516))
        result.update(device=device, bw_gbps=bw[3] * 8 / 1000 if len(bw) > 3 else None,
                      lat_typical_us=lat[4] if len(lat) > 4 else None)
    json.dump(result, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
