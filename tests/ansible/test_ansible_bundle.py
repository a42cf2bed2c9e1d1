"""The stacklab bundle hosts install offline, and the host entry point that
applies a plan (no VM needed: the VM test installs and runs both for real)."""

from __future__ import annotations

import json
import shutil
import tarfile

from lab.providers.ansible import agent
from lab.providers.ansible import wheelhouse as wh


def test_host_entry_point_imports_no_controller_tool():
    measured = wh.measured_imports()
    assert {"pydantic", "pyroute2", "pip-nftables"} <= measured
    assert not measured & wh.CONTROLLER_ONLY, measured & wh.CONTROLLER_ONLY


def test_import_measurement_sees_a_heavy_module(tmp_path):
    """Fault: a module that imports a controller-only package is seen as importing it."""
    assert "numpy" in wh.measured_imports(("numpy",))


def test_bundle_holds_stacklab_the_host_dependencies_and_the_collectors():
    bundle = wh.build()  # cached by its inputs after the first build (needs PyPI once)
    names = {pin.split("==")[0] for pin in bundle.distributions}
    assert {"stacklab", "pydantic", "pydantic-core", "pyroute2", "pip-nftables"} <= names
    # the host agent reads the plan as JSON: since lab.model loads lazily, no YAML parser goes along
    assert "pyyaml" not in names
    assert not names & wh.CONTROLLER_ONLY
    assert f"stacklab=={bundle.version}" in bundle.distributions
    assert bundle.version.startswith("0.1.0+s") and bundle.python_tag.startswith("cp3")
    with tarfile.open(bundle.bundle) as tar:
        members = set(tar.getnames())
    wheels = {m for m in members if m.endswith(".whl")}
    assert len(wheels) == len(bundle.distributions)
    assert {"wheels/requirements.txt", "collectors/reach.py"} <= members
    requirements = (bundle.directory / "wheels" / "requirements.txt").read_text().split()
    assert sorted(requirements) == sorted(bundle.distributions)


def test_bundle_is_reused_while_its_inputs_stay_the_same():
    first, second = wh.build(), wh.build()
    assert first == second
    assert wh.input_hash() == first.directory.name


def test_a_changed_source_makes_a_new_bundle_key(tmp_path):
    checkout = tmp_path / "checkout"
    shutil.copytree(wh.CHECKOUT / "lab", checkout / "lab", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(wh.CHECKOUT / "pyproject.toml", checkout)
    shutil.copytree(wh.CHECKOUT / "collectors", checkout / "collectors")
    same = wh.input_hash(checkout)
    assert same == wh.input_hash()
    (checkout / "lab" / "providers" / "host_apply.py").write_text("# changed\n", encoding="utf-8")
    assert wh.input_hash(checkout) != same
    (checkout / "collectors" / "reach.py").write_text("# changed too\n", encoding="utf-8")
    assert len({same, wh.input_hash(checkout)}) == 2


def test_agent_refuses_a_file_that_is_not_a_plan(tmp_path, capsys):
    bad = tmp_path / "plan.json"
    bad.write_text(json.dumps({"host": "hv1", "plan": {"lab": "x"}}))
    assert agent.main(["apply-host", "--plan", str(bad), "--host", "hv1"]) == 2
    assert f"--plan {bad}: not a stacklab plan" in capsys.readouterr().err


def test_agent_refuses_a_host_the_plan_does_not_have(tmp_path, capsys):
    from ansb_targets import topology

    from lab.plan.planner import build_plan

    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"host": "hv1", "plan": build_plan(topology()).model_dump(mode="json")}))
    assert agent.main(["apply-host", "--plan", str(plan), "--host", "hv9", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "--host 'hv9' is not in the plan; hosts: " in err and "hv1, mux1" in err
