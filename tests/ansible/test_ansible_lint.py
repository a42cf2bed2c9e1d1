"""The playbooks pass ansible-lint (production profile) and Ansible's syntax check."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from lab.providers.ansible.driver import PLAYBOOKS, ansible_env

BIN = Path(sys.executable).parent


def _run(*argv: str) -> subprocess.CompletedProcess:
    env = {"PATH": f"{BIN}:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(Path.home()),
           "NO_COLOR": "1", **ansible_env()}
    return subprocess.run(argv, cwd=PLAYBOOKS, env=env, capture_output=True, text=True,
                          timeout=300, check=False)


def test_playbooks_pass_ansible_lint_production_profile():
    done = _run(str(BIN / "ansible-lint"), "--profile", "production")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Profile 'production' was required, and it passed" in done.stderr + done.stdout


def test_playbooks_pass_syntax_check():
    done = _run(str(BIN / "ansible-playbook"), "--syntax-check", "-i", "localhost,",
                "site.yml", "down.yml")
    assert done.returncode == 0, done.stdout + done.stderr


def test_collection_plugins_have_documentation_ansible_doc_can_read():
    """ansible-doc parses each plugin's DOCUMENTATION (with its doc fragments):
    a YAML slip there breaks `ansible-doc` and module argument docs silently."""
    plugins = Path(PLAYBOOKS, "collections/ansible_collections/stacklab/lab/plugins")
    names = {kind: sorted(p.stem for p in (plugins / kind).glob("*.py"))
             for kind in ("modules", "connection")}
    assert names["modules"], "no modules found"
    for kind, stems in names.items():
        doc_type = "module" if kind == "modules" else "connection"
        done = _run(str(BIN / "ansible-doc"), "-t", doc_type, "--json",
                    *(f"stacklab.lab.{s}" for s in stems))
        assert done.returncode == 0 and "ERROR" not in done.stderr, done.stderr
        docs = json.loads(done.stdout)
        for stem in stems:
            doc = docs[f"stacklab.lab.{stem}"]["doc"]
            assert doc.get("short_description"), f"{stem}: no short_description"
            if kind == "modules":
                assert "check_mode" in doc.get("attributes", {}), f"{stem}: no check_mode attribute"
