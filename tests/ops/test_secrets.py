"""`lab secrets status|rotate` on the running lab: 0600 files with a creation
time; rotation renews value and age with no moment where a client is
refused (the BMC and the basic-auth exporter asked throughout) and without
data-path downtime, measured: client -> VIP connections keep being answered,
the ToR keeps the VIP's route (the MUX keeps announcing it) and the probes
keep every backend healthy while secrets rotate; the kernel state of every
namespace is the same before and after. The age check and its fault."""

from __future__ import annotations

import json
import stat
import threading
import time
from collections.abc import Callable

import pytest
import requests

from lab.apply.netns import list_namespaces
from lab.lb.status import lb_status
from lab.model.topology import Specs
from lab.ops import redfish
from lab.ops.secret_store import load, secrets_dir
from lab.ops.secrets import exporter_htpasswd_path, exporter_password_path
from lab.ops.snapshot import namespace_snapshot
from lab.paths import results_dir
from lab.providers.embedded import saved_plan
from lab.report.exporter import build_registry, serve
from lab.verify.lb.bgp import serving
from lab.verify.lb.routing import tor_nexthops
from lab.verify.lb.traffic import one_shot
from tests.fabric.helpers import lab_cli, lab_json

from .conftest import LAB, TOPOLOGY, fault_flips_check

pytestmark = pytest.mark.root
ROTATIONS = 4
SAMPLES_MAX = 300  # every loop below is bounded in count and in time
SAMPLE_BUDGET_S = 240.0


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
    assert [r["name"] for r in rows] == ["bmc", "exporter"]
    for row in rows:
        assert row["max_age_h"] == 24 and not row["stale"]
        assert row["next_rotation"] == pytest.approx(row["created_at"] + 24 * 3600)
    assert "password" not in json.dumps(rows)


def _sample_while(action: Callable[[], None], sample: Callable[[], object]) -> list:
    """Samples taken in a thread, bounded, for as long as `action` runs."""
    stop, samples = threading.Event(), []

    def loop() -> None:
        deadline = time.monotonic() + SAMPLE_BUDGET_S
        while not stop.is_set() and len(samples) < SAMPLES_MAX and time.monotonic() < deadline:
            samples.append(sample())

    sampler = threading.Thread(target=loop)
    sampler.start()
    try:
        time.sleep(0.3)  # a few samples before the first rotation
        action()
        time.sleep(0.3)
    finally:
        stop.set()
        sampler.join(timeout=SAMPLE_BUDGET_S)
    return samples


def _rotate_all() -> None:
    for _ in range(ROTATIONS):
        lab_json("secrets", "rotate", "--all", "--lab", LAB)


def _kernel_state() -> dict:
    keep = ("links", "addresses", "routes", "fdb", "nftables")
    return {ns: {k: v for k, v in namespace_snapshot(ns).items() if k in keep}
            for ns in list_namespaces() if ns.startswith(f"{LAB}.")}


def test_rotation_keeps_the_vip_answering_advertised_and_probed(ops_lab):
    plan = saved_plan(LAB)
    client = next(h.namespace for h in plan.hosts if h.role == "client")
    vip = str(plan.load_balancers[0].frontends[0].vip)
    old = {name: load(LAB, name) for name in ("bmc", "exporter")}

    def sample() -> tuple[str, bool, bool]:
        answer, _ = one_shot(client, vip, 80, timeout=3.0)
        routed = bool(tor_nexthops(LAB, plan.bgp.namespace, vip))
        healthy = all(b["healthy"] for m in lb_status(LAB) for b in m["backends"])
        return answer, routed, healthy

    with serving(plan):  # echo on the backends, probes until both are healthy, VIP announced
        before = _kernel_state()
        samples = _sample_while(_rotate_all, sample)
        after = _kernel_state()
    assert len(samples) >= 5, samples
    unanswered = [a for a, _, _ in samples if a not in ("web1", "web2")]
    assert not unanswered, f"{len(unanswered)} of {len(samples)} VIP connections failed: {unanswered[:5]}"
    assert all(routed for _, routed, _ in samples), "the ToR lost the VIP's route during rotation"
    assert all(healthy for _, _, healthy in samples), "a probe failed during rotation"
    assert after == before
    for name, secret in old.items():
        new = load(LAB, name)
        assert new.rotations == secret.rotations + ROTATIONS and new.value["password"] != secret.value["password"]


def test_rotation_refuses_no_bmc_or_exporter_client_at_any_moment(ops_lab):
    """The verifier accepts the previous value beside the new one until the
    next rotation: a client that read it just before a switch finishes; the
    value before that is refused (ROTATIONS > 1)."""
    old = {name: load(LAB, name).value for name in ("bmc", "exporter")}
    server, _ = serve(build_registry([results_dir(LAB)], lab=LAB), "127.0.0.1", 0, exporter_htpasswd_path(LAB))
    url = f"http://127.0.0.1:{server.server_port}/metrics"

    def sample() -> tuple[bool, int]:
        bmc_ok = all(r["answered"] for r in redfish.survey(LAB, ["hv2"]))  # credentials read per call
        scrape = requests.get(url, auth=("prometheus", exporter_password_path(LAB).read_text()), timeout=10)
        return bmc_ok, scrape.status_code  # as Prometheus reads password_file per scrape

    try:
        samples = _sample_while(_rotate_all, sample)
        stale = requests.get(url, auth=(old["exporter"]["username"], old["exporter"]["password"]), timeout=10)
    finally:
        server.shutdown()
    assert len(samples) >= 3
    assert all(ok for ok, _ in samples), "the BMC refused the lab's current credentials during rotation"
    assert {code for _, code in samples} == {200}
    assert stale.status_code == 401
    hv2 = next(b for b in redfish.bmc.endpoints(LAB)[1] if b.server == "hv2")
    with pytest.raises(redfish.BmcError, match="401|Unauthorized|unauthorized"):
        with redfish.session(LAB, hv2, f"{LAB}.oob.hlh", password=old["bmc"]["password"]) as conn:
            conn.get_system_collection()


def test_the_exporter_serves_with_the_labs_basic_auth_secret(ops_lab):
    """`lab exporter --basic-auth`: scrapes need the `exporter` secret (read from its 0600 file)."""
    import socket
    import subprocess
    import sys

    from tests.fabric.helpers import ROOT

    lab_cli("verify", str(TOPOLOGY), "--only", "baseline", check=False)  # the exporter serves a verify history
    with socket.socket() as s:  # a free loopback port for the exporter
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    argv = [sys.executable, "-m", "lab", "exporter", "--lab", LAB, "--basic-auth", "--port", str(port)]
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                anonymous = requests.get(url, timeout=5)
                break
            except requests.ConnectionError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read().decode()
                time.sleep(0.3)
        scraped = requests.get(url, auth=("prometheus", exporter_password_path(LAB).read_text()), timeout=10)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert anonymous.status_code == 401 and scraped.status_code == 200
    assert "stacklab" in scraped.text
    verifier = exporter_htpasswd_path(LAB)
    verifier.rename(verifier.with_name("moved"))
    try:
        refused = lab_cli("exporter", "--lab", LAB, "--basic-auth", "--port", str(port), check=False)
    finally:
        verifier.with_name("moved").rename(verifier)
    assert refused.returncode == 2 and "has no exporter secret" in " ".join(refused.stderr.split())


@pytest.mark.parametrize(("args", "code", "message"), [
    (("rotate", "nosuch", "--lab", LAB), 2, "lab opsl has no secret 'nosuch'; its secrets: bmc, exporter"),
    (("rotate", "--lab", LAB), 2, "give a secret NAME or --all"),
    (("rotate", "bmc", "--all", "--lab", LAB), 2, "give a secret NAME or --all"),
    (("status", "--lab", "nosuchlab"), 4, "no lab nosuchlab; labs here:"),
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
