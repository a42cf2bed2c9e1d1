"""`lab bench lb --format json` prints the agreed keys (small, bounded run); extra keys
extend the contract, never replace it. One run covers the MUX pool too (--muxes 1,2)."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from lb_support import require_root
from typer.testing import CliRunner

from lab.cli import app

KEYS = {"drop_ns", "established_ns", "new_flow_ns", "xdp_cpu_ns_per_pkt", "nft_cpu_ns_per_pkt",
        "xdp_pps", "nft_pps"}
POOL_KEYS = {"muxes", "frames", "offered_pps", "total_pps", "whole_cpu_ns_per_pkt", "xdp_drop_ns_per_pkt",
             "per_mux"}
pytestmark = pytest.mark.root


def test_bench_lb_json_has_the_agreed_keys_and_forwards_in_both_runs_and_through_every_mux():
    require_root("clang", "bpftool", "trafgen")
    result = CliRunner().invoke(app, ["bench", "lb", "--format", "json", "--frames", "20000", "--muxes", "1,2"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert KEYS <= set(data)
    assert all(isinstance(data[k], (int, float)) and data[k] >= 0 for k in KEYS), data
    assert data["xdp_pps"] > 0 and data["nft_pps"] > 0 and data["drop_ns"] > 0, data
    assert data["established_raw_ns"] == pytest.approx(data["established_ns"] + data["rewind_ns"])
    one, two = data["muxes"]
    assert POOL_KEYS <= set(one) and POOL_KEYS <= set(two), data["muxes"]
    assert (one["muxes"], two["muxes"]) == (1, 2) and [len(one["per_mux"]), len(two["per_mux"])] == [1, 2]
    for entry in (one, two):
        assert entry["total_pps"] > 0 and entry["offered_pps"] > 0 and entry["whole_cpu_ns_per_pkt"] >= 0, entry
        assert all(m["forwarded"] > 0 and m["cpu_ns_per_pkt"] > 0 for m in entry["per_mux"]), entry
    # the ECMP route spreads the 256 flows: neither MUX is starved
    assert all(m["share"] > 0.2 for m in two["per_mux"]), two


def test_the_pool_frames_count_the_source_port_so_the_ecmp_route_sees_256_flows(tmp_path):
    """trafgen's config for the pool bench, written to a pcap (no device, no root)."""
    if shutil.which("trafgen") is None:
        pytest.skip("needs trafgen (netsniff-ng)")
    from scapy.layers.inet import TCP
    from scapy.layers.l2 import Ether
    from scapy.utils import rdpcap

    from lab.lb.livebench import trafgen_config
    from lab.lb.poolbench import SPORT_LOW_BYTE, pool_frame

    frame = pool_frame()
    (tmp_path / "pool.cfg").write_text(trafgen_config(frame, (SPORT_LOW_BYTE,)))
    subprocess.run(["trafgen", "--in", str(tmp_path / "pool.cfg"), "--out", str(tmp_path / "pool.pcap"),
                    "--num", "300", "--cpus", "1", "--no-cpu-stats"], check=True, capture_output=True, timeout=30)
    sent = [bytes(p) for p in rdpcap(str(tmp_path / "pool.pcap"))]
    assert len(sent) == 300
    assert len({Ether(f)[TCP].sport for f in sent}) == 256
    assert all(f[:SPORT_LOW_BYTE] + f[SPORT_LOW_BYTE + 1:] == frame[:SPORT_LOW_BYTE] + frame[SPORT_LOW_BYTE + 1:]
               for f in sent)


@pytest.mark.parametrize("muxes", ["0", "1,x", "9"])
def test_bench_lb_rejects_bad_mux_counts_before_any_work(muxes):
    result = CliRunner().invoke(app, ["bench", "lb", "--muxes", muxes])
    assert result.exit_code == 2 and "--muxes" in result.output


def test_bench_lb_rejects_unknown_format():
    result = CliRunner().invoke(app, ["bench", "lb", "--format", "xml"])
    assert result.exit_code == 2
