"""The playbooks pass ansible-lint (production profile) and Ansible's syntax check."""

from __future__ import annotations

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
