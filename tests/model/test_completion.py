"""Shell completion of fault kinds, lab names, nodes and VMs, driven the way
bash drives it (`_LAB_COMPLETE=complete_bash` with COMP_WORDS/COMP_CWORD) and
through the completion API; each list is checked against the real thing,
and completing imports none of the heavy libraries (its time is measured
by `lab bench cli`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
import yaml
from typer._completion_classes import BashComplete

from lab.cli import app
from lab.model import load_topology
from lab.plan.planner import build_plan
from lab.providers import nodes
from lab.providers.state import write_json

ROOT = Path(__file__).resolve().parents[2]
# typer coerces every parameter value through pydantic, so pydantic itself
# is typer's (as for `lab verify --help`); what completion reads must load
# neither the other heavy libraries nor the model, plan or fault modules
HEAVY = ("scipy", "numpy", "pyroute2", "libvirt", "scapy", "jinja2", "lab.model.topology", "lab.plan.model",
         "lab.verify.fabric.faults", "lab.verify.storage.faults", "lab.providers.nodes")


def complete(*words: str) -> list[str]:
    """What <TAB> after `lab WORDS...` offers (the last word is the incomplete one)."""
    shell = BashComplete(typer.main.get_command(app), {}, "lab", "_LAB_COMPLETE")
    return [item.value for item in shell.get_completions(list(words[:-1]), words[-1])]


@pytest.fixture
def host(tmp_path, monkeypatch) -> Path:
    """Lab `store` up (its saved plan: servers, a gateway, VMs db1 and db2),
    lab `tiny` up, and results of a lab `gone` that was brought down."""
    monkeypatch.setenv("STACKLAB_HOME", str(tmp_path))
    for name, source in (("store", "storage-tiers.yaml"), ("tiny", "minimal.yaml")):
        data = yaml.safe_load((ROOT / "topologies" / source).read_text()) | {"name": name}
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(data))
        plan = build_plan(load_topology(tmp_path / f"{name}.yaml"))
        write_json(tmp_path / "labs" / name / "plan.json", plan.model_dump(mode="json"))
    (tmp_path / "results" / "gone").mkdir(parents=True)
    return tmp_path


def _plan(home: Path, lab: str):
    from lab.plan.model import Plan

    return Plan.model_validate(json.loads((home / "labs" / lab / "plan.json").read_text()))


def test_fault_kinds_complete_to_exactly_the_injectable_faults():
    from lab.verify.catalog import all_faults

    assert complete("fault", "inject", "") == sorted(all_faults())
    assert complete("fault", "inject", "cap-") == ["cap-raised", "cap-removed"]


def test_lab_names_complete_for_lab_and_for_exec(host):
    assert complete("status", "--lab", "") == ["gone", "store", "tiny"]
    assert complete("exec", "st") == ["store"]
    assert complete("vm", "exec", "--lab", "t") == ["tiny"]


def test_nodes_complete_to_names_exec_resolves(host):
    offered = complete("exec", "store", "")
    plan = _plan(host, "store")
    assert {"tor", "client", "hv1", "hv2", "gw.red", "db1", "db2"} == set(offered)
    for name in offered:  # every offer is a node `lab exec` enters
        assert nodes.resolve(plan, name).name in {n.name for n in nodes.nodes(plan)}
    assert complete("shell", "tiny", "red") == ["red-web1"]  # a namespace endpoint by its own name
    assert complete("capture", "tiny", "h") == ["hv1"]


def test_vms_complete_for_the_lab_named_by_lab_or_by_file(host):
    assert complete("vm", "exec", "--lab", "store", "") == ["db1", "db2"]
    assert complete("logs", "vm", "-t", str(host / "store.yaml"), "db") == ["db1", "db2"]
    assert complete("vm", "exec", "--lab", "tiny", "") == []  # no VM in the minimal lab
    assert complete("bmc", "power", "on", "--lab", "store", "d") == ["db1", "db2"]


def test_format_completes_to_what_the_verb_accepts():
    assert complete("status", "--format", "") == ["table", "json"]
    assert complete("plan", "--format", "") == ["yaml", "json"]


def _bash_complete(words: str, cword: int, home: Path, argv: list[str]) -> list[str]:
    env = {**os.environ, "_LAB_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(cword),
           "STACKLAB_HOME": str(home)}
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, cwd=ROOT, check=True)
    return done.stdout.split()


@pytest.mark.parametrize("argv", [[sys.executable, "-m", "lab"], [str(Path(sys.executable).with_name("lab"))]],
                         ids=["python -m lab", "installed script"])
def test_bash_drives_completion_through_the_environment(host, argv):
    if not Path(argv[0]).exists():
        pytest.fail(f"{argv[0]} is missing: scripts/install-deps.sh installs the lab script")
    assert _bash_complete("lab exec store gw", 3, host, argv) == ["gw.red"]
    assert _bash_complete("lab fault inject mtu", 3, host, argv) == ["mtu-lowered"]


PROBE = """
import os, sys
os.environ.update(_LAB_COMPLETE="complete_bash", COMP_WORDS={words!r}, COMP_CWORD="{cword}")
from lab.cli import app
try:
    app(prog_name="lab")
except SystemExit:
    pass
print("LOADED", sorted(m for m in {heavy!r} if m in sys.modules))
"""


@pytest.mark.parametrize(("words", "cword"), [("lab fault inject ", 3), ("lab exec store ", 3),
                                              ("lab vm exec --lab store ", 4), ("lab status --lab ", 3)])
def test_completion_imports_none_of_the_heavy_libraries(host, words, cword):
    code = PROBE.format(words=words, cword=cword, heavy=HEAVY)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT,
                          env={**os.environ, "STACKLAB_HOME": str(host)}, check=True)
    offered, _, loaded = done.stdout.rpartition("LOADED ")
    assert offered.split(), done.stderr  # it did complete something
    assert loaded.strip() == "[]"
