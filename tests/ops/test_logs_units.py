"""The time window and the redactor, without a lab (no root)."""

from __future__ import annotations

import time

import pytest

from lab.ops.redact import MASK, Redactor
from lab.ops.sources import Host, Inventory, frr_items
from lab.ops.window import Window, WindowError, line_time, parse_time

NOW = 1_700_000_000.0


def test_relative_iso_and_epoch_times_parse():
    assert parse_time("-2h", "--from", NOW) == NOW - 7200
    assert parse_time("now", "--to", NOW) == NOW
    assert parse_time("1700000000", "--from", NOW) == NOW
    assert parse_time("2023-11-14T22:13:20Z", "--from", NOW) == NOW


def test_a_reversed_window_names_both_options():
    with pytest.raises(WindowError, match="--from .* is after --to"):
        Window.parse("-1h", "-2h")


def test_a_bad_time_names_the_option_and_the_forms():
    with pytest.raises(WindowError, match=r"--to 'yesterday' is not a time: use ISO 8601"):
        Window.parse(None, "yesterday")


def test_qemu_and_iso_line_stamps_are_read():
    assert line_time("2023-11-14 22:13:20.123+0000: starting up") == pytest.approx(NOW + 0.123)
    assert line_time("[2023-11-14T22:13:20Z] x") == NOW
    assert line_time("no stamp here") is None


def test_lines_are_kept_by_their_stamp_and_continuations_follow_their_line():
    text = ("2023-11-14T20:00:00Z old\n  old continuation\n"
            "2023-11-14T22:13:20Z new\n  new continuation\n")
    kept, how = Window(NOW - 60, NOW + 60).filter_text(text, mtime=NOW)
    assert how == "lines"
    assert kept == "2023-11-14T22:13:20Z new\n  new continuation\n"


def test_a_file_without_stamps_is_placed_by_its_mtime():
    window = Window(NOW - 60, NOW + 60)
    assert window.filter_text("a\nb\n", mtime=NOW) == ("a\nb\n", "mtime")
    assert window.filter_text("a\nb\n", mtime=NOW - 3600) == (None, "mtime")


def test_the_redactor_masks_store_values_and_secret_shapes():
    planted = "s3cr3t-Planted-Value"
    r = Redactor([planted, "admin"])
    text = r.text(f"login ok pass {planted}\npassword=hunter22 x\nAuthorization: Basic YWRtaW46eA==\n"
                  "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----\nadmin here\n")
    for leaked in (planted, "hunter22", "YWRtaW46eA==", "abc"):
        assert leaked not in text
    assert text.count(MASK) == 4
    assert "admin here" in text  # short values would mask ordinary words: left alone


def test_secret_files_are_recognised_by_place_and_name(tmp_path):
    store = tmp_path / "secrets"
    store.mkdir()
    r = Redactor([], [store])
    assert r.is_secret_path(store / "bmc.json")
    assert r.is_secret_path(tmp_path / "id_ed25519")
    assert r.is_secret_path(tmp_path / "bmc.htpasswd")
    assert not r.is_secret_path(tmp_path / "probed.log")


def test_window_includes_now_only_when_it_has_not_ended():
    assert Window(None, None).includes_now()
    assert not Window(None, time.time() - 60).includes_now()


@pytest.mark.parametrize(("routing", "why"), [
    ("static", "the ToR routes statically (no BGP planned)"),
    ("bgp", "holds no FRR files: its daemons never started"),
    ("unknown", "no FRR directory"),
])
def test_an_absent_frr_log_says_why_from_the_plan(tmp_path, monkeypatch, routing, why):
    monkeypatch.setenv("STACKLAB_HOME", str(tmp_path))
    found = frr_items(Inventory("nolab", "test", routing=routing))
    assert [(i.arcname, why in i.missing) for i in found] == [("daemons/frr/", True)]


def test_frr_files_are_taken_per_host_with_its_role(tmp_path, monkeypatch):
    monkeypatch.setenv("STACKLAB_HOME", str(tmp_path))
    for host in ("tor", "mux1"):
        d = tmp_path / "labs" / "frl" / "frr" / host
        d.mkdir(parents=True)
        (d / "frr.log").write_text("2024-05-01T12:00:00Z bgpd started\n")
        (d / "bgpd.pid").write_text("1")
    inv = Inventory("frl", "test", [Host("tor", "tor", "frl.tor"), Host("mux1", "mux", "frl.mux1")], routing="bgp")
    assert [(i.arcname, i.role) for i in frr_items(inv)] == [
        ("daemons/frr/mux1/frr.log", "mux"), ("daemons/frr/tor/frr.log", "tor")]
