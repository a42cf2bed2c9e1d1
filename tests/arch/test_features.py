"""The feature registry: every reference resolves (a typo would make a
feature silently absent), and every commands module imports on its own."""

from __future__ import annotations

import subprocess
import sys

import pytest

from lab import features
from lab.features import FEATURES, resolve

KINDS = ("plan", "lifecycle", "checks", "faults", "collector", "commands")
REFS = [(f.name, kind, getattr(f, kind)) for f in FEATURES for kind in KINDS if getattr(f, kind)]


@pytest.mark.parametrize(("feature", "kind", "ref"), REFS, ids=[f"{f}.{k}" for f, k, _ in REFS])
def test_every_reference_resolves(feature, kind, ref):
    assert resolve(ref) is not None, f"feature {feature}: {kind} {ref!r} does not exist"


@pytest.mark.parametrize("module", sorted({f.commands for f in FEATURES if f.commands}))
def test_each_commands_module_imports_on_its_own(module):
    proc = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_a_missing_feature_package_is_absent_not_an_error():
    assert resolve("lab.nosuchfeature.lifecycle") is None
    assert features.optional_module("lab.nosuchfeature") is None
