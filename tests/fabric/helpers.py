"""Shared helpers for fabric tests: run the CLI, make topologies, find residue."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from lab.apply.netns import list_namespaces
from lab.model import load_topology

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = ROOT / "topologies" / "embedded.yaml"


def lab_cli(*args: str, check: bool = True, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "lab", *args], capture_output=True, text=True, check=False,
                          timeout=timeout, cwd=ROOT)
    if check and proc.returncode != 0:
        raise AssertionError(f"lab {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


def lab_json(*args: str) -> dict:
    return json.loads(lab_cli(*args, "--format", "json").stdout)


def default_topology_as(tmp_path: Path, name: str) -> Path:
    """The default embedded topology under another lab name."""
    data = yaml.safe_load(DEFAULT.read_text())
    data["name"] = name
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    load_topology(path)
    return path


def write_topology(tmp_path: Path, topo) -> Path:
    path = tmp_path / f"{topo.name}.yaml"
    path.write_text(yaml.safe_dump(topo.model_dump(mode="json", exclude_defaults=True), sort_keys=False))
    return path


def lab_namespaces(lab: str) -> list[str]:
    return [ns for ns in list_namespaces() if ns.startswith(f"{lab}.")]
