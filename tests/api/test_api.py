"""The Python API without root, through `stacklab` only: load, plan, every
problem of a bad topology at once, a dry run that touches nothing, and the
errors a script catches."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import stacklab

MINIMAL = Path(__file__).resolve().parents[2] / "topologies" / "minimal.yaml"


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("STACKLAB_HOME", str(tmp_path / "home"))
    return tmp_path


def _copy(directory: Path, name: str, **changes) -> Path:
    data = yaml.safe_load(MINIMAL.read_text()) | {"name": name, **changes}
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_load_and_plan_a_topology():
    plan = stacklab.plan(stacklab.load(MINIMAL))
    assert plan.lab == "minimal"
    assert {h.name for h in plan.hosts} == {"tor", "client", "hv1", "gw.red", "ep.red-web1"}
    assert plan.model_dump(mode="json")["tenants"][0]["vni"] == 1001


def test_a_bad_topology_raises_every_problem_at_once_with_its_line(home):
    path = _copy(home, "apibad", tenats=[], servers=[{"name": "hv1", "role": "compute"},
                                                     {"name": "hv1", "role": "compute"}])
    with pytest.raises(stacklab.TopologyError) as caught:
        stacklab.load(path)
    messages = " | ".join(f"{i.path}: {i.message}" for i in caught.value.issues)
    assert "did you mean 'tenants'" in messages and "hv1" in messages, messages
    assert len(caught.value.issues) >= 2 and all(i.line for i in caught.value.issues)


def test_a_dry_run_lists_what_up_would_do_and_creates_no_lab(home):
    plan = stacklab.plan(stacklab.load(_copy(home, "apidry")))
    changes = stacklab.up(plan, dry_run=True)
    created = {c.target for c in changes if str(c).startswith("create netns")}
    lifecycle = {plan.lifecycle_host.namespace} if plan.lifecycle_host else set()
    assert created == {h.namespace for h in plan.hosts} | lifecycle
    assert all(c.to_json()["host"] for c in changes)
    assert stacklab.labs() == []
    with pytest.raises(stacklab.NoSuchLabError, match="no lab apidry; labs here: none"):
        stacklab.status("apidry")


def test_verify_refuses_an_unknown_group_and_a_lab_that_is_not_up(home):
    plan = stacklab.plan(stacklab.load(_copy(home, "apinup")))
    with pytest.raises(stacklab.UnknownGroupError, match="fabric, storage"):
        stacklab.verify(plan, only=["nope"])
    with pytest.raises((stacklab.LabNotUpError, stacklab.NeedsRootError)):
        stacklab.verify(plan)
    assert set(stacklab.GROUPS) >= {"fabric", "storage", "lb"}
