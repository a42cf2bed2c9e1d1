"""A lab is named the same way by every verb: TOPOLOGY (or -t FILE) or
--lab NAME; a name this host does not hold exits 4 with "no lab NAME; labs
here: ...". The walk finds every verb with --lab, so a new one is covered."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from lab.cli import app

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]
MINIMAL = ROOT / "topologies" / "minimal.yaml"


def _leaves(command, path: tuple[str, ...] = ()):
    subs = getattr(command, "commands", None)
    if subs is None:
        yield path, command
        return
    for name, sub in subs.items():
        yield from _leaves(sub, (*path, name))


COMMANDS = dict(_leaves(typer.main.get_command(app)))
WITH_LAB = sorted(path for path, cmd in COMMANDS.items() if any("--lab" in getattr(p, "opts", ()) for p in cmd.params))
# positional values that pass the verb's other checks, so only the lab decides
POSITIONALS = {("bmc", "power"): ["on", "db1"], ("bmc", "boot-device"): ["disk", "db1"],
               ("fault", "inject"): ["flooding"], ("lb", "add-vip"): ["lb1", "192.0.2.10", "80"],
               ("lb", "remove-vip"): ["lb1", "192.0.2.10", "80"], ("lb", "add-backend"): ["lb1", "red1"],
               ("lb", "remove-backend"): ["lb1", "red1"], ("vm", "exec"): ["db1", "true"],
               ("vm", "set-cap"): ["db1", "data"], ("logs", "vm"): ["db1"]}
OPTIONS = {("vm", "set-cap"): ["--iops", "5"], ("secrets", "rotate"): ["--all"]}
EVERY_LAB_VERB = {("plan",), ("up",), ("down",), ("status",), ("verify",), ("regress",), ("fault", "inject"),
                  ("fault", "clear"), ("report",), ("exporter",), ("history",), ("lb", "status"),
                  ("lb", "add-vip"), ("lb", "remove-vip"), ("lb", "add-backend"), ("lb", "remove-backend"),
                  ("vm", "exec"), ("vm", "set-cap"), ("logs", "vm"), ("logs", "collect"), ("secrets", "status"),
                  ("secrets", "rotate"), ("bmc", "status"), ("bmc", "power"), ("bmc", "boot-device")}


@pytest.fixture
def host(tmp_path, monkeypatch) -> Path:
    """Two labs here; root as far as the verbs ask; `down` finds no residue."""
    monkeypatch.setenv("STACKLAB_HOME", str(tmp_path))
    for lab in ("demo", "big"):
        (tmp_path / "labs" / lab).mkdir(parents=True)
    monkeypatch.setattr("lab.cli.common.is_root", lambda: True)
    monkeypatch.setattr("lab.providers.embedded.down", lambda name, progress=None: [])
    return tmp_path


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_the_walk_finds_every_verb_that_takes_a_lab():
    assert set(WITH_LAB) == EVERY_LAB_VERB, set(WITH_LAB) ^ EVERY_LAB_VERB


@pytest.mark.parametrize("path", WITH_LAB, ids=" ".join)
def test_every_lab_verb_also_takes_the_topology_as_t(path):
    opts = {o for p in COMMANDS[path].params for o in getattr(p, "opts", ())}
    assert {"--lab", "--topology", "-t"} <= opts


@pytest.mark.parametrize("path", WITH_LAB, ids=" ".join)
def test_an_unknown_lab_exits_4_listing_the_labs_here(host, path):
    argv = [*path, *POSITIONALS.get(path, []), *OPTIONS.get(path, []), "--lab", "dem"]
    result = runner.invoke(app, argv)
    assert result.exit_code == 4, (argv, result.output)
    assert "no lab dem (did you mean 'demo'?); labs here: big, demo" in _flat(result.output), result.output


@pytest.mark.parametrize("argv", [["exec", "nosuch", "hv1", "--", "true"], ["shell", "nosuch", "hv1"],
                                  ["capture", "nosuch", "hv1", "eth0"]], ids=lambda a: a[0])
def test_an_unknown_lab_argument_exits_4_too(host, argv):
    result = runner.invoke(app, argv)
    assert result.exit_code == 4 and "no lab nosuch; labs here: big, demo" in _flat(result.output)


def test_no_lab_anywhere_says_none(tmp_path, monkeypatch):
    monkeypatch.setenv("STACKLAB_HOME", str(tmp_path))
    result = runner.invoke(app, ["secrets", "status", "--lab", "x"])
    assert result.exit_code == 4 and "no lab x; labs here: none" in _flat(result.output)


@pytest.mark.parametrize("argv", [["status", str(MINIMAL), "--lab", "demo"], ["plan", str(MINIMAL), "-t", str(MINIMAL)],
                                  ["status"], ["vm", "exec", "db1", "true"]])
def test_neither_or_two_different_labs_is_bad_input(host, argv):
    result = runner.invoke(app, argv)
    assert result.exit_code == 2, result.output
    assert "error:" in result.output


def test_the_topology_names_the_same_lab_as_a_positional_or_as_t(host):
    positional = runner.invoke(app, ["plan", str(MINIMAL), "--format", "json"])
    option = runner.invoke(app, ["plan", "-t", str(MINIMAL), "--format", "json"])
    assert positional.exit_code == option.exit_code == 0 and positional.stdout == option.stdout


def test_plan_of_a_lab_by_name_is_the_plan_it_was_brought_up_with(host, tmp_path):
    from lab.model import load_topology
    from lab.plan.planner import build_plan
    from lab.providers.state import write_json

    data = yaml.safe_load(MINIMAL.read_text()) | {"name": "demo"}
    (tmp_path / "demo.yaml").write_text(yaml.safe_dump(data))
    plan = build_plan(load_topology(tmp_path / "demo.yaml"))
    write_json(host / "labs" / "demo" / "plan.json", plan.model_dump(mode="json"))
    by_name = runner.invoke(app, ["plan", "--lab", "demo", "--format", "json"])
    by_file = runner.invoke(app, ["plan", str(tmp_path / "demo.yaml"), "--format", "json"])
    assert by_name.exit_code == 0 and by_name.stdout == by_file.stdout
    assert runner.invoke(app, ["plan", "--lab", "big"]).exit_code == 4  # here, but never fully up


def test_down_of_a_file_whose_lab_is_gone_is_done_but_of_an_unknown_name_exits_4(host):
    assert runner.invoke(app, ["down", str(MINIMAL)]).exit_code == 0
    result = runner.invoke(app, ["down", "--lab", "minimal"])
    assert result.exit_code == 4 and "no lab minimal" in result.output


def test_old_spellings_still_work(host):
    """Extend only: `lab lb add-vip --lab X LB ...` and `-t` on the VM verbs parse as before."""
    for argv in (["lb", "add-vip", "--lab", "nosuch", "lb1", "192.0.2.10", "80"],
                 ["vm", "exec", "-t", str(MINIMAL), "db1", "true"], ["logs", "vm", "db1", "--topology", str(MINIMAL)],
                 ["bmc", "power", "on", "db1", "-t", str(MINIMAL)]):
        result = runner.invoke(app, argv)
        assert result.exit_code == 4 and "no lab" in result.output, (argv, result.output)
