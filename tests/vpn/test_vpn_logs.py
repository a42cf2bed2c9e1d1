"""`lab logs collect` takes the VPN daemons' logs within its window and never
a key (no root: a lab directory laid out as lab.vpn writes it)."""

from __future__ import annotations

import time

from lab.ops.logs import collect, read_archive
from lab.ops.secret_store import Secret, save
from lab.ops.sources import Host, Inventory
from lab.ops.window import Window, line_time
from lab.paths import lab_dir

LAB = "hwlogs"
PSK = "PlantedVpnPsk-7d2a91c4"
PRIVATE = "cGxhbnRlZC1wcml2YXRlLWtleS1vZi10aGUtc2l0ZQ=="


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(t))


def _go(t: float) -> str:
    return time.strftime("%Y/%m/%d %H:%M:%S", time.localtime(t))


def _lay_out_vpn_files(now: float) -> None:
    vpn = lab_dir(LAB) / "vpn"
    for host in ("vpn.hq.1", "site.hq", "vpn.branch"):
        (vpn / host).mkdir(parents=True)
    (vpn / "vpn.hq.1" / "charon.log").write_text(
        f"{_iso(now - 7200)} 00[DMN] old start\n{_iso(now)} 05[IKE] IKE_SA hq[1] established\n"
        f"{_iso(now)} 05[CFG] loaded secret {PSK}\n")
    (vpn / "vpn.hq.1" / "swanctl.conf").write_text(f'secrets {{ ike-hq {{ secret = "{PSK}" }} }}\n')
    (vpn / "site.hq" / "charon.log").write_text(f"{_iso(now)} 06[IKE] CHILD_SA hq{{1}} established\n")
    (vpn / "vpn.branch" / "wireguard-go.log").write_text(
        f"ERROR: (wgbranch) {_go(now - 7200)} old failure\nERROR: (wgbranch) {_go(now)} new failure\n")
    (vpn / "vpn.branch" / "wireguard.conf").write_text(f"[Interface]\nPrivateKey = {PRIVATE}\n")
    (vpn / "vpn.branch" / "wireguard-go.pid").write_text("1")
    (vpn / "monitor.log").write_text(f"{_iso(now)} hq: now served by vpn.hq.2\n")
    (vpn / "serving").mkdir()
    (vpn / "serving" / "hq.json").write_text('{"host": "vpn.hq.2"}')


def test_wireguard_go_and_frr_stamps_place_their_lines():
    assert line_time("ERROR: (wg0) 2024/05/01 12:00:00 handshake failed") == line_time("2024-05-01T12:00:00")
    assert line_time("2024/05/01 12:00:00.250 BGP: peer up") == line_time("2024-05-01T12:00:00.250")


def test_vpn_logs_are_taken_in_the_window_and_no_key_is(tmp_path, monkeypatch):
    monkeypatch.setenv("STACKLAB_HOME", str(tmp_path / "home"))
    now = time.time()
    save(LAB, Secret("vpn-hq", "vpn-ikev2", now, {"psk": PSK}))
    save(LAB, Secret("vpn-branch", "vpn-wireguard", now, {"site_private": PRIVATE}))
    _lay_out_vpn_files(now)
    hosts = [Host("vpn.hq.1", "gateway", f"{LAB}.vpn.hq.1"), Host("site.hq", "client", f"{LAB}.site.hq"),
             Host("vpn.branch", "gateway", f"{LAB}.vpn.branch")]
    inv = Inventory(LAB, "test", hosts)
    done = collect(inv, {"gateway"}, Window(now - 3600, None), tmp_path / "out.tar.zst",
                   snapshot=lambda ns: {"namespace": ns}, bpf_summary=lambda: [])
    members = read_archive(done.path)
    base = f"{LAB}/daemons/vpn"
    assert {f"{base}/vpn.hq.1/charon.log", f"{base}/vpn.branch/wireguard-go.log", f"{base}/monitor.log",
            f"{base}/serving/hq.json"} <= set(members)
    assert f"{base}/site.hq/charon.log" not in members  # the site is taken with the client's role
    charon = members[f"{base}/vpn.hq.1/charon.log"].decode()
    assert "established" in charon and "old start" not in charon
    assert members[f"{base}/vpn.branch/wireguard-go.log"].decode().endswith("new failure\n")
    assert not [n for n in members if n.endswith((".conf", ".pid"))]
    blob = b"".join(members.values())
    assert PSK.encode() not in blob and PRIVATE.encode() not in blob
    assert done.manifest["redactions"] >= 1
    taken = {t["name"]: t for t in done.manifest["taken"]}
    assert taken["daemons/vpn/vpn.hq.1/charon.log"]["selected_by"] == "lines"
    assert taken["daemons/vpn/vpn.branch/wireguard-go.log"]["selected_by"] == "lines"
