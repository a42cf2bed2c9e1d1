"""Fixtures of the Ansible tests (helpers live in ansb_targets)."""

from __future__ import annotations

import secrets

import pytest
from ansb_targets import build_lab, need_root, remove_namespaces


@pytest.fixture(scope="module")
def netns_lab():
    need_root()
    prefix = f"ansb-{secrets.token_hex(3)}"
    try:
        lab = build_lab(prefix)
        yield lab
    finally:
        remove_namespaces(prefix)
