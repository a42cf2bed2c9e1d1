"""`lab bench lb --format json` prints the agreed keys (small, bounded run); extra keys
extend the contract, never replace it."""

from __future__ import annotations

import json

import pytest
from lb_support import require_root
from typer.testing import CliRunner

from lab.cli import app

KEYS = {"drop_ns", "established_ns", "new_flow_ns", "xdp_cpu_ns_per_pkt", "nft_cpu_ns_per_pkt",
        "xdp_pps", "nft_pps"}
pytestmark = pytest.mark.root


def test_bench_lb_json_has_the_agreed_keys_and_forwards_in_both_runs():
    require_root("clang", "bpftool")
    result = CliRunner().invoke(app, ["bench", "lb", "--format", "json", "--frames", "20000"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert KEYS <= set(data)
    assert all(isinstance(data[k], (int, float)) and data[k] >= 0 for k in KEYS), data
    assert data["xdp_pps"] > 0 and data["nft_pps"] > 0 and data["drop_ns"] > 0, data
    assert data["established_raw_ns"] == pytest.approx(data["established_ns"] + data["rewind_ns"])


def test_bench_lb_rejects_unknown_format():
    result = CliRunner().invoke(app, ["bench", "lb", "--format", "xml"])
    assert result.exit_code == 2
