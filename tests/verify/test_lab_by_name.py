"""The verify family with the lab named by --lab only (the topology file
gone): verify, a fault that its check then catches, fault clear, regress,
history, report, down; on topologies/minimal.yaml as lab `apiname`."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.fabric.helpers import ROOT, lab_cli, lab_namespaces

LAB = "apiname"

pytestmark = pytest.mark.root


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    data = yaml.safe_load((ROOT / "topologies" / "minimal.yaml").read_text()) | {"name": LAB}
    path = tmp_path_factory.mktemp("byname") / f"{LAB}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    lab_cli("down", "--lab", LAB, check=False)
    lab_cli("up", str(path), timeout=300)
    path.unlink()  # from here on the lab is known by its name only
    try:
        yield LAB
    finally:
        lab_cli("down", "--lab", LAB, check=False)


def _verify() -> tuple[int, dict[str, str]]:
    done = lab_cli("verify", "--lab", LAB, "--only", "fabric", "--format", "json", check=False, timeout=300)
    return done.returncode, {c["name"]: c["verdict"] for c in json.loads(done.stdout)["checks"]}


def test_verify_fault_clear_regress_history_report_down_by_name(lab):
    code, verdicts = _verify()
    assert code == 0 and verdicts and set(verdicts.values()) == {"pass"}, verdicts
    injected = lab_cli("fault", "inject", "mtu-lowered", "--lab", LAB)
    assert "undo with: lab fault clear --lab apiname" in injected.stdout
    code, verdicts = _verify()
    assert code == 1 and verdicts["fabric.underlay.reachability_mtu"] == "fail", verdicts
    assert "1 repairs" in lab_cli("fault", "clear", "--lab", LAB).stdout
    regress = lab_cli("regress", "--lab", LAB, "--only", "fabric", "--format", "json", check=False, timeout=300)
    assert regress.returncode == 0, regress.stderr
    runs = json.loads(lab_cli("history", "--lab", LAB, "--format", "json").stdout)
    assert [r["passed"] for r in runs] == [True, False, True]
    assert "index.html" in lab_cli("report", "--lab", LAB).stdout
    assert f"lab {LAB}: removed" in lab_cli("down", "--lab", LAB).stdout
    assert lab_namespaces(LAB) == []
    again = lab_cli("down", "--lab", LAB, check=False)
    assert again.returncode == 4 and f"no lab {LAB}" in again.stderr
    assert lab_cli("history", "--lab", LAB, "--format", "json").returncode == 0  # the results outlive the lab
