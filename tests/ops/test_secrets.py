"""`lab secrets status|rotate` on a running netns lab: 0600 files with a
creation time, rotation renews value and age, the BMC takes the new
credentials at once, and the data path never notices (traffic measured
during rotation, kernel state identical before and after). The age check
and its fault."""

from __future__ import annotations

import json
import stat
import threading

import pytest
import requests

from lab.apply.netns import list_namespaces
from lab.apply.nsexec import run_collector
from lab.model.topology import Specs
from lab.ops import bmc
from lab.ops.secret_store import load, secrets_dir
from lab.ops.snapshot import namespace_snapshot
from tests.fabric.helpers import lab_cli, lab_json

from .conftest import LAB, fault_flips_check

pytestmark = pytest.mark.root


def test_the_max_age_spec_defaults_to_24_h_and_is_described():
    field = Specs.model_fields["secret_max_age_h"]
    assert Specs().secret_max_age_h == 24.0 and "rotate" in field.description
    with pytest.raises(ValueError, match="greater than 0"):
        Specs(secret_max_age_h=0)


def test_secrets_are_private_files_with_a_creation_time(ops_lab):
    assert stat.S_IMODE(secrets_dir(LAB).stat().st_mode) == 0o700
    for path in secrets_dir(LAB).iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    rows = lab_json("secrets", "status", "--lab", LAB)["secrets"]
    assert [r["name"] for r in rows] == ["bmc"]
    bmc_row = rows[0]
    assert bmc_row["max_age_h"] == 24 and not bmc_row["stale"]
    assert bmc_row["next_rotation"] == pytest.approx(bmc_row["created_at"] + 24 * 3600)
    assert "password" not in json.dumps(rows)


def _answered(stop: threading.Event, results: list[bool], limit: int = 200) -> None:
    """Bounded ping loop from web1 to web2 (across servers, through VXLAN)."""
    for _ in range(limit):
        if stop.is_set():
            return
        res = run_collector(f"{LAB}.ep.web1", "reach", "100.64.1.11", "--timeout", "1.0", "--tries", "1")
        results.append(res["results"][0]["reachable"])


def _kernel_state() -> dict:
    keep = ("links", "addresses", "routes", "fdb", "nftables")
    return {ns: {k: v for k, v in namespace_snapshot(ns).items() if k in keep}
            for ns in list_namespaces() if ns.startswith(f"{LAB}.")}


def test_rotation_renews_the_secret_without_touching_the_data_path(ops_lab):
    before, old = _kernel_state(), load(LAB, "bmc")
    stop, results = threading.Event(), []
    pinger = threading.Thread(target=_answered, args=(stop, results))
    pinger.start()
    try:
        for _ in range(5):
            rotated = lab_json("secrets", "rotate", "bmc", "--lab", LAB)["rotated"]
    finally:
        stop.set()
        pinger.join(timeout=60)
    assert results and all(results), f"{results.count(False)} of {len(results)} probes lost during rotation"
    assert _kernel_state() == before
    new = load(LAB, "bmc")
    assert rotated[0]["rotations"] == old.rotations + 5 and new.created_at > old.created_at
    assert new.value["password"] != old.value["password"]
    url = f"{bmc.url(LAB)}/Systems"
    assert requests.get(url, auth=(new.value["username"], new.value["password"]), timeout=10).status_code == 200
    assert requests.get(url, auth=(old.value["username"], old.value["password"]), timeout=10).status_code == 401


@pytest.mark.parametrize(("args", "code", "message"), [
    (("rotate", "nosuch", "--lab", LAB), 2, "lab opsl has no secret 'nosuch'; its secrets: bmc"),
    (("rotate", "--lab", LAB), 2, "give a secret NAME or --all"),
    (("rotate", "bmc", "--all", "--lab", LAB), 2, "give a secret NAME or --all"),
    (("status", "--lab", "nosuchlab"), 4, "lab 'nosuchlab' is not there"),
])
def test_bad_secrets_input_changes_nothing(ops_lab, args, code, message):
    before = load(LAB, "bmc")
    proc = lab_cli("secrets", *args, check=False)
    assert proc.returncode == code
    assert message in " ".join(proc.stderr.split())
    assert load(LAB, "bmc") == before


def test_secret_age_check_catches_a_stale_secret(ops_lab):
    def shows_stale() -> None:
        assert lab_json("secrets", "status", "--lab", LAB)["secrets"][0]["stale"]

    fault_flips_check("stale-secret", "baseline", "baseline.secrets.age", shows_stale)
