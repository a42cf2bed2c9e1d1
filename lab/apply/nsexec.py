"""Run a program inside a lab namespace (collectors, probes, servers)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from pyroute2 import netns

from lab.apply.netns import NETNS_DIR

COLLECTORS = Path(__file__).resolve().parents[2] / "collectors"


def _enter(namespace: str):
    def setns() -> None:
        netns.setns(str(NETNS_DIR / namespace), flags=0)

    return setns


def run_in_namespace(namespace: str, argv: list[str], timeout: float = 60,
                     check: bool = False) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, preexec_fn=_enter(namespace), capture_output=True, text=True,
                          timeout=timeout, check=check)


def popen_in_namespace(namespace: str, argv: list[str], **kwargs: Any) -> subprocess.Popen:
    return subprocess.Popen(argv, preexec_fn=_enter(namespace), **kwargs)


def run_collector(namespace: str, name: str, *args: str, timeout: float = 120) -> dict[str, Any]:
    """Run collectors/<name>.py in the namespace and parse its JSON output."""
    proc = run_in_namespace(namespace, [sys.executable, str(COLLECTORS / f"{name}.py"), *args],
                            timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"collector {name} in {namespace} failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
    return json.loads(proc.stdout)


