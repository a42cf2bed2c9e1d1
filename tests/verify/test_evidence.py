"""Evidence belongs to the run: kept in results/<lab>/verify/<time>/evidence,
named there by report.json, JUnit and the history, still there after
`lab down`, and pruned to the last N runs."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from lab.paths import lab_dir, results_dir
from lab.report.history import History
from lab.report.runs import new_run_dir, prune_runs, run_dirs
from lab.verify import evidence
from lab.verify.result import CheckResult
from lab.verify.runner import named_check

from .cli_support import check, invoke, mark_up, tiny_topology

LAB = "nx"


def _capture() -> list[CheckResult]:
    """Like the VNI check: one pcap through evidence.new_path, two results name it."""
    pcap = evidence.new_path(LAB, "vni", ".pcap")
    pcap.write_bytes(b"\xd4\xc3\xb2\xa1")
    return [CheckResult(f"fabric.{t}.vni_on_wire", "fabric", "VNI", "ok", "pass", str(pcap))
            for t in ("red", "blue")]


def _old_style() -> list[CheckResult]:
    """A check that still writes into the lab's state dir, which `down` deletes."""
    path = lab_dir(LAB) / "evidence" / "flooding-1.pcap"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\xd4\xc3\xb2\xa1")
    return [CheckResult(n, "fabric", "0 frames", "0 frames", "pass", str(path))
            for n in ("fabric.bridges.no_flooding", "fabric.blue.no_flooding")]


CHECKS = [named_check("fabric.all_tenants.vni_on_wire", "fabric", _capture),
          named_check("fabric.bridges.no_flooding", "fabric", _old_style),
          check("fabric.underlay.reachability_mtu", "pass", evidence="all answered")]


@pytest.fixture
def topo(home, tmp_path):
    path = tiny_topology(tmp_path)
    mark_up(path)
    return path


def _evidence_paths() -> list[Path]:
    """Every file path named as evidence in the latest report, JUnit and history row."""
    verify = results_dir(LAB) / "verify"
    named = [c["evidence"] for c in json.loads((verify / "latest.json").read_text())["checks"]]
    for out in ET.parse(verify / "latest.xml").getroot().iter("system-out"):
        named += re.findall(r"^evidence: (/\S+)$", out.text or "", re.M)
    with History.for_lab(results_dir(LAB)) as history:
        named += [r.evidence for r in history.latest_run(LAB).results]
    return [Path(p) for p in named if p.startswith("/")]


@pytest.mark.root
def test_every_evidence_path_exists_after_lab_down(topo, use_checks):
    use_checks(CHECKS)
    assert invoke("verify", topo).exit_code == 0
    assert invoke("down", "--lab", LAB).exit_code == 0
    assert not lab_dir(LAB).exists()
    paths = _evidence_paths()
    assert len(paths) == 12  # 4 results with a file, each in report, JUnit and history
    run_dir = run_dirs(results_dir(LAB))[-1]
    for path in paths:
        assert path.is_file() and path.parent == run_dir / "evidence", path
    assert len({p.name for p in paths}) == 2  # shared files stay shared


def test_evidence_outside_a_run_still_goes_to_the_lab_dir(home):
    assert evidence.new_path(LAB, "x", ".pcap").parent == lab_dir(LAB) / "evidence"


def test_retention_keeps_the_last_n_runs_and_all_history_rows(topo, use_checks, monkeypatch):
    use_checks(CHECKS)
    monkeypatch.setenv("STACKLAB_KEEP_RUNS", "3")
    for _ in range(5):
        assert invoke("verify", topo).exit_code == 0
    kept = run_dirs(results_dir(LAB))
    assert len(kept) == 3
    assert all(p.is_file() for p in _evidence_paths())
    with History.for_lab(results_dir(LAB)) as history:
        assert len(history.runs(LAB)) == 5
    assert invoke("verify", topo, "--keep-runs", "1").exit_code == 0  # the option beats the variable
    assert run_dirs(results_dir(LAB)) == [p for p in run_dirs(results_dir(LAB)) if p not in kept]
    assert len(run_dirs(results_dir(LAB))) == 1


def test_a_run_after_pruning_in_the_same_second_is_the_newest(tmp_path):
    """Pruning frees the second's first names; the next run must not take one."""
    t = 1_800_000_000.0
    made = [new_run_dir(tmp_path, t) for _ in range(4)]
    prune_runs(tmp_path, 2)
    latest = new_run_dir(tmp_path, t)
    assert run_dirs(tmp_path) == [*made[2:], latest]
    assert prune_runs(tmp_path, 1, protect=latest) == made[2:]
