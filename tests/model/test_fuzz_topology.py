"""1,000 mutated topologies (tests/model/fuzz_cases.py) through the real
command line: `lab validate --format json` exits 2 with every error naming a
path (or 0 when the mutant is still valid, and then `lab plan` plans it);
`lab up` on every invalid one exits 2 with the same problems and creates
nothing: no file under STACKLAB_HOME, no namespace, no root-namespace link
carrying the lab's mark, no libvirt domain. No traceback, ever.

In-process through the click command `lab` itself runs (typer's app, built
once: building it per call would cost ten times the validation), plus a few
oddities by subprocess, which also proves the process's exit code and stderr.

LAB_FUZZ_EXAMPLES changes the count (a long bug hunt); the suite runs 1,000.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
import yaml
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, note, settings
from pyroute2 import IPRoute

from lab.apply.netns import list_namespaces
from lab.cli import app
from lab.plan.naming import mark_for

from .fuzz_cases import LAB, topology_files

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = int(os.environ.get("LAB_FUZZ_EXAMPLES", "1000"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
COMMAND = typer.main.get_command(app)
RUNNER = CliRunner()
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
TRACEBACK = "Traceback (most recent call last)"
SPENT: dict[str, float] = {}


class Rig:
    """Where a fuzzed `up` could leave something: the state directory, the
    namespaces, the root namespace's links, libvirt's domains."""

    def __init__(self, home: Path, work: Path):
        self.home, self.work, self.ipr = home, work, IPRoute()
        self.names: set[str] = {LAB}

    def residue(self, names: set[str]) -> list[str]:
        found = [f"file {p}" for p in self.home.rglob("*")]
        found += [f"netns {ns}" for ns in list_namespaces() if ns.split(".", 1)[0] in names]
        marks = {mark_for(n) for n in names}
        found += [f"link {link.get('IFLA_IFNAME')}" for link in self.ipr.get_links()
                  if link.get("IFLA_IFALIAS") in marks]
        return found + [f"domain {d}" for d in _domains() if d.split(".", 1)[0] in names]


def _domains() -> list[str]:
    """libvirt's domains, read-only; none can exist if libvirtd is not running."""
    if not Path("/run/libvirt/libvirt-sock-ro").exists():
        return []
    import libvirt

    try:
        conn = libvirt.openReadOnly("qemu:///system")
    except libvirt.libvirtError:
        return []
    try:
        return [d.name() for d in conn.listAllDomains()]
    finally:
        conn.close()


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    home = tmp_path_factory.mktemp("fuzz-home")
    saved = os.environ.get("STACKLAB_HOME")
    os.environ["STACKLAB_HOME"] = str(home)
    rig = Rig(home, tmp_path_factory.mktemp("fuzz-files"))
    try:
        yield rig
        assert rig.residue(rig.names) == []
    finally:
        rig.ipr.close()
        if saved is None:
            os.environ.pop("STACKLAB_HOME", None)
        else:
            os.environ["STACKLAB_HOME"] = saved


def _lab(*args: str) -> Result:
    started = time.monotonic()
    result = RUNNER.invoke(COMMAND, list(args))
    SPENT[args[0]] = SPENT.get(args[0], 0.0) + time.monotonic() - started
    return result


def _no_crash(result: Result, what: str) -> None:
    text = result.stdout + result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), f"{what} raised:\n{text}"
    assert TRACEBACK not in text and " crashed: " not in text, f"{what}:\n{text}"


def _lab_name(raw: bytes) -> str | None:
    """The `name:` the file asks for, if a YAML parser can tell."""
    try:
        data = yaml.load(raw, Loader=LOADER)
    except Exception:  # noqa: BLE001 - any file the parser refuses names no lab
        return None
    name = data.get("name") if isinstance(data, dict) else None
    return name if isinstance(name, str) and name else None


def _check_invalid(rig: Rig, path: Path, raw: bytes, errors: list[dict]) -> None:
    assert errors, "exit 2 without an error"
    for error in errors:
        assert isinstance(error["path"], str) and error["path"].strip(), f"an error names no path: {error}"
        assert error["message"], error
        assert error["line"] is None or error["line"] >= 1, error
    up = _lab("up", str(path))
    _no_crash(up, "lab up")
    assert up.exit_code == 2, f"lab up exited {up.exit_code}:\n{up.stdout}{up.stderr}"
    assert f"{len(errors)} problem(s)" in up.stderr, up.stderr
    names = {LAB} | ({n} if (n := _lab_name(raw)) else set())
    rig.names |= names
    assert rig.residue(names) == [], "lab up of an invalid topology created something"


@FUZZ
@given(raw=topology_files())
def test_fuzzed_topologies_exit_2_naming_a_path_and_create_nothing(rig, raw):
    path = rig.work / "fuzz.yaml"
    path.write_bytes(raw)
    note(f"file: {raw[:2000]!r}")
    checked = _lab("validate", "--format", "json", str(path))
    _no_crash(checked, "lab validate")
    assert checked.exit_code in (0, 2), f"lab validate exited {checked.exit_code}:\n{checked.output}"
    report = json.loads(checked.stdout)
    assert report["valid"] == (checked.exit_code == 0)
    if checked.exit_code == 2:
        _check_invalid(rig, path, raw, report["errors"])
        return
    planned = _lab("plan", str(path), "--format", "json")  # a valid topology always plans
    _no_crash(planned, "lab plan")
    assert planned.exit_code == 0, planned.stderr
    assert json.loads(planned.stdout)["lab"] == report["lab"]
    assert not any(rig.home.iterdir()), "validate or plan wrote under STACKLAB_HOME"


def test_fuzz_time_spent(rig):
    """Runs after the fuzz test: how long the commands took (CI's budget)."""
    print(f"fuzz: {EXAMPLES} examples; seconds in lab " +
          ", ".join(f"{verb} {s:.1f}" for verb, s in sorted(SPENT.items())))


# The oddities whose bytes a parser is most likely to choke on, by subprocess:
# the real process's exit code and stderr.
ODDITIES = {
    "bom": "\ufeffname: fuzzp\nservers: [{name: hv1}]\nvms: [{name: v, tenant: nope, kind: netns}]\n",
    "utf16": "name: fuzzp\nservers: [{name: hv1}]\n".encode("utf-16"),
    "tabs": "name: fuzzp\nservers:\n\t- {name: hv1}\n",
    "alias-bomb": "name: fuzzp\nservers: [{name: hv1}]\na: &a [x, x, x, x, x, x, x, x, x, x]\n"
                  + "".join(f"{c}: &{c} [{', '.join([f'*{p}'] * 10)}]\n"
                            for p, c in zip("abcde", "bcdef", strict=True)),
    "recursive": "name: fuzzp\nservers: &s [{name: hv1}, *s]\n",
    "python-tag": "name: !!python/object/apply:os.system ['touch /tmp/fuzz-pwned']\nservers: [{name: hv1}]\n",
    "deep": "name: fuzzp\nservers: " + "[" * 5000 + "]" * 5000 + "\n",
    "duplicate-key": "name: fuzzp\nservers: [{name: hv1}]\nservers: [{name: hv1}, {name: hv1}]\n",
}


@pytest.mark.parametrize("case", sorted(ODDITIES))
def test_oddity_through_the_lab_process_exits_2_naming_a_path(tmp_path, case):
    raw = ODDITIES[case]
    path = tmp_path / f"{case}.yaml"
    path.write_bytes(raw if isinstance(raw, bytes) else raw.encode())
    home = tmp_path / "home"
    proc = subprocess.run([sys.executable, "-m", "lab", "up", str(path)], capture_output=True, text=True,
                          timeout=60, cwd=ROOT, env=os.environ | {"STACKLAB_HOME": str(home)}, check=False)
    assert proc.returncode == 2, proc.stderr
    assert TRACEBACK not in proc.stderr + proc.stdout
    problems = [line for line in proc.stderr.splitlines() if line.startswith("  ")]
    assert problems, proc.stderr
    for line in problems:  # "  [line N: ]PATH: message"
        where = line.strip().split(": ", 2)
        path_part = where[1] if where[0].startswith("line ") else where[0]
        assert path_part.strip() and path_part != "<top>", line
    assert not home.exists() and not any(ns.startswith("fuzzp.") for ns in list_namespaces())
    assert not Path("/tmp/fuzz-pwned").exists()
