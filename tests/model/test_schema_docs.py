"""`lab schema` and docs/topology.md come from the pydantic model: the
committed files are current, and the schema accepts the shipped topologies
and refuses what the model refuses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import get_args

import jsonschema
import pytest
import yaml
from pydantic import BaseModel
from typer.testing import CliRunner

from lab.cli import app
from lab.model import Topology
from lab.model.schema import REGENERATE, schema_json, topology_markdown, topology_schema

from .helpers import EMBEDDED, mutate

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def _validator() -> jsonschema.Draft202012Validator:
    schema = topology_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


@pytest.mark.parametrize(("committed", "generate"), [("docs/topology.md", topology_markdown),
                                                     ("docs/topology.schema.json", schema_json)])
def test_committed_reference_is_current(committed, generate):
    assert (ROOT / committed).read_text() == generate(), f"{committed} is stale; regenerate: {REGENERATE}"


def test_lab_schema_prints_the_schema_and_markdown():
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["title"] == "stacklab topology"
    result = runner.invoke(app, ["schema", "--markdown"])
    assert result.exit_code == 0 and result.stdout.startswith("# Topology reference")


def test_every_field_of_every_model_is_in_the_reference():
    page = topology_markdown()
    for model in _models(Topology):
        assert f"## {model.__name__}\n" in page
        for name, field in model.model_fields.items():
            assert f"| `{name}` |" in page, f"{model.__name__}.{name} is missing from docs/topology.md"
            assert field.description, f"{model.__name__}.{name} has no description"


def _models(annotation, found: dict | None = None) -> list[type[BaseModel]]:
    """The model and every model its fields hold, each once."""
    found = {} if found is None else found
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if annotation not in found:
            found[annotation] = None
            for field in annotation.model_fields.values():
                _models(field.annotation, found)
    else:
        for arg in get_args(annotation):
            _models(arg, found)
    return list(found)


def test_reference_lists_the_vm_sizes_and_limits():
    page = topology_markdown()
    assert "| `Standard_DS1_v2` | 1 | 3584 | 2 |" in page
    assert "<= 1023" in page  # the 1 TB disk limit the validator enforces
    assert "direct server return" in page


def test_schema_accepts_the_shipped_topologies():
    validator = _validator()
    for path in [*sorted((ROOT / "topologies").glob("*.yaml")), EMBEDDED]:
        errors = [e.message for e in validator.iter_errors(yaml.safe_load(path.read_text()))]
        assert errors == [], f"{path}: {errors}"


@pytest.mark.parametrize(("old", "new"), [
    ("tenants:\n", "tenats:\n"),                                   # unknown key
    ("  no_flooding: true\n", "  no_flooding: true\n  dsr: false\n"),  # DSR only
    ("server: hv3, kind: netns", "server: hv3, kind: vm, size: Huge"),  # not a VM size
    ("mtu: 9000", "mtu: 20000"),                                   # over the limit
    ("vni: 1002", "vni: '1002x'"),                                 # wrong type
    ("name: demo", "name: Demo"),                                  # name pattern
    ("100.64.2.10}", "not-an-address}"),                          # IPv4 format
])
def test_schema_refuses_what_the_model_refuses(old, new):
    data = yaml.safe_load(mutate(old, new)[0])
    assert list(_validator().iter_errors(data)), f"the schema accepts {new!r}"

