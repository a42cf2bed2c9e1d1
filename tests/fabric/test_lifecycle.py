"""up / status / up again / down on real namespaces; crashes, locks, look-alikes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from pyroute2 import IPRoute, netns

from lab.apply.netns import Sockets, create_namespace, namespace_exists, remove_namespace
from lab.model import load_topology
from lab.plan.planner import build_plan
from lab.providers import embedded
from lab.providers.bench import generated_topology
from lab.providers.state import lab_dir, state_root

from .helpers import ROOT, default_topology_as, lab_cli, lab_json, lab_namespaces, write_topology

pytestmark = pytest.mark.root


def assert_no_residue(lab: str) -> None:
    assert lab_namespaces(lab) == []
    assert not lab_dir(lab).exists()
    assert not (state_root() / "locks" / f"{lab}.lock").exists()


def test_up_status_up_again_down_leaves_nothing(tmp_path):
    topo = default_topology_as(tmp_path, "lc1")
    try:
        first = lab_json("up", str(topo))
        plan = build_plan(load_topology(topo))
        planned = [h.namespace for h in plan.hosts] + [plan.lifecycle_host.namespace]  # + the BMCs' (ops)
        assert first["changed"] and sorted(lab_namespaces("lc1")) == sorted(planned)
        status = lab_json("status", str(topo))
        assert status["state"] == "up"
        hv1 = next(s for s in status["servers"] if s["name"] == "hv1")
        assert hv1 == {"name": "hv1", "role": "compute", "namespace": "lc1.hv1",
                       "underlay_ip": "198.18.0.11", "health": "ok"}
        ep = next(e for e in status["endpoints"] if e["name"] == "blue-web1")
        assert (ep["tenant"], ep["server"], ep["address"], ep["kind"]) == ("blue", "hv2", "100.64.1.10", "netns")
        second = lab_cli("up", str(topo))
        assert "nothing to change" in second.stdout
        assert lab_json("up", str(topo))["changes"] == []
    finally:
        lab_cli("down", str(topo), check=False)
    assert_no_residue("lc1")


def test_dry_run_lists_changes_and_creates_nothing(tmp_path):
    topo = default_topology_as(tmp_path, "lc2")
    result = lab_json("up", str(topo), "--dry-run")
    kinds = {c["kind"] for c in result["changes"]}
    assert result["dry_run"] and {"netns", "link", "fdb", "neigh", "snat"} <= kinds
    assert lab_namespaces("lc2") == []
    assert_no_residue("lc2")  # not even its lock file or directory


def test_status_reports_drift_after_a_link_is_deleted_and_up_repairs_it(tmp_path):
    topo = default_topology_as(tmp_path, "lc3")
    try:
        lab_cli("up", str(topo))
        with Sockets() as sockets:
            ipr = sockets("lc3.hv1")
            ipr.link("del", index=ipr.link_lookup(ifname="vx1001")[0])
        status = lab_json("status", "--lab", "lc3")
        hv1 = next(s for s in status["servers"] if s["name"] == "hv1")
        assert hv1["health"].startswith("drift") and status["state"].startswith("degraded"), status
        repaired = lab_json("up", str(topo))
        assert any(c["kind"] == "link" and c["target"].startswith("vx1001") for c in repaired["changes"]), \
            repaired["changes"]
        after = lab_json("status", "--lab", "lc3")
        unhealthy = [(r["name"], r["health"]) for key in ("servers", "fabric", "endpoints")
                     for r in after[key] if r["health"] != "ok"]
        assert after["state"] == "up", unhealthy
    finally:
        lab_cli("down", "--lab", "lc3", check=False)
    assert_no_residue("lc3")


def test_down_after_kill_9_midway_through_up_without_the_topology_file(tmp_path):
    topo_file = write_topology(tmp_path, generated_topology(24, name="lc4"))
    proc = subprocess.Popen([sys.executable, "-m", "lab", "up", str(topo_file)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while len(lab_namespaces("lc4")) < 10 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert lab_namespaces("lc4"), "up was not caught midway"
    topo_file.unlink()
    lab_cli("down", "--lab", "lc4")
    assert_no_residue("lc4")


def test_lookalike_namespace_and_bridge_survive_down(tmp_path):
    topo = default_topology_as(tmp_path, "lc5")
    lookalike = "lc5.hv9"
    netns.create(lookalike)
    try:
        with Sockets() as sockets:
            sockets(lookalike).link("add", ifname="br1001", kind="bridge")
        lab_cli("up", str(topo))
        lab_cli("down", str(topo))
        assert namespace_exists(lookalike)
        with Sockets() as sockets:
            assert sockets(lookalike).link_lookup(ifname="br1001")
    finally:
        remove_namespace(lookalike)
    assert_no_residue("lc5")


def test_up_refuses_a_foreign_namespace_with_a_planned_name(tmp_path):
    topo = default_topology_as(tmp_path, "lc6")
    netns.create("lc6.tor")
    try:
        result = lab_cli("up", str(topo), check=False)
        assert result.returncode == 4 and "not owned by lab 'lc6'" in result.stderr
        assert lab_namespaces("lc6") == ["lc6.tor"]
    finally:
        remove_namespace("lc6.tor")
        lab_cli("down", "--lab", "lc6", check=False)


def test_two_concurrent_ups_on_one_lab_one_is_refused(tmp_path):
    topo_file = write_topology(tmp_path, generated_topology(24, name="lc7"))
    first = subprocess.Popen([sys.executable, "-m", "lab", "up", str(topo_file)], cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not lab_namespaces("lc7") and time.monotonic() < deadline and first.poll() is None:
            time.sleep(0.02)
        second = lab_cli("up", str(topo_file), check=False)
        assert first.wait(timeout=120) == 0
        assert second.returncode == 4 and "busy" in second.stderr
    finally:
        lab_cli("down", "--lab", "lc7", check=False)
    assert_no_residue("lc7")


def test_failed_up_rolls_back(tmp_path, monkeypatch):
    plan = build_plan(load_topology(default_topology_as(tmp_path, "lc8")))

    def broken_snat(host, exists):
        raise RuntimeError("injected failure while programming SNAT")

    monkeypatch.setattr("lab.apply.phases.nat.diff_snat", broken_snat)
    with pytest.raises(RuntimeError, match="injected failure"):
        embedded.up(plan)
    assert_no_residue("lc8")


def test_bad_topology_creates_nothing_and_exits_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: lc9\nservers:\n  - {name: hv1}\nvms:\n  - {name: v, tenant: nope, kind: netns}\n")
    result = lab_cli("up", str(bad), check=False)
    assert result.returncode == 2 and "unknown tenant 'nope'" in result.stderr
    assert lab_namespaces("lc9") == [] and not lab_dir("lc9").exists()


def test_namespace_mark_is_on_loopback_and_every_link():
    plan = build_plan(generated_topology(2, name="lc10"))
    try:
        embedded.up(plan)
        with IPRoute() as root:
            assert root.get_links(1)[0].get("IFLA_IFALIAS") != plan.mark
        with Sockets() as sockets:
            for host in plan.hosts:
                aliases = {m.get("IFLA_IFNAME"): m.get("IFLA_IFALIAS") for m in sockets(host.namespace).get_links()}
                assert set(aliases.values()) == {plan.mark}, host.name
    finally:
        embedded.down(plan.lab)
    assert_no_residue("lc10")


def test_create_namespace_returns_to_the_callers_namespace():
    before = os.stat("/proc/thread-self/ns/net").st_ino
    with Sockets() as sockets:
        create_namespace("lc11.probe", "stacklab:lc11", sockets)
    try:
        assert os.stat("/proc/thread-self/ns/net").st_ino == before
    finally:
        remove_namespace("lc11.probe")
