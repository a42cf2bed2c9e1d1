#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Load one nftables table from a file when the loaded one is not that file.

The file declares the table with ``comment "<digest>"``; the module compares
that comment with the live table's, so a second run changes nothing, and a
table removed or replaced by hand is loaded again. The file must replace the
table atomically (it should start with ``table F N {}`` + ``delete table F N``).
"""

from __future__ import annotations

DOCUMENTATION = r"""
module: nft_table
short_description: Load an nftables table from a file, idempotently
description:
  - Compares the live table's comment with I(digest) and loads I(path) with C(nft -f) only if they differ.
  - With I(state=absent), deletes the table if it exists.
version_added: "0.1.0"
author: stacklab
options:
  family:
    description: Table family.
    type: str
    default: inet
  table:
    description: Table name.
    type: str
    required: true
  path:
    description: Ruleset file that (re)creates the table with C(comment) set to I(digest).
    type: path
  digest:
    description: The comment the loaded table carries when it is up to date.
    type: str
  state:
    description: Whether the table should be loaded or absent.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - stacklab.lab.attributes
"""

EXAMPLES = r"""
- name: Default-deny firewall
  stacklab.lab.nft_table:
    table: stacklab
    path: /etc/nftables.d/stacklab.nft
    digest: "stacklab 1a2b3c"
"""

RETURN = r"""
loaded_digest:
  description: Comment of the table that was live before the run (null if none).
  returned: always
  type: str
"""

import re

from ansible.module_utils.basic import AnsibleModule


def _live(module, nft, family, table):
    """Return (exists, comment, text) of the live table.

    The table comment is read from the text listing (its first line inside the
    table): nft's JSON output of older releases (1.0.6) leaves it out.
    """
    rc, text, _err = module.run_command([nft, "list", "table", family, table])
    if rc != 0:
        return False, None, ""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("table ")), None)
    comment = None
    if start is not None and start + 1 < len(lines):
        match = re.match(r'^\s*comment "(.*)"$', lines[start + 1])
        comment = match.group(1) if match else None
    return True, comment, text


def main():
    module = AnsibleModule(
        argument_spec={
            "family": {"type": "str", "default": "inet"},
            "table": {"type": "str", "required": True},
            "path": {"type": "path"},
            "digest": {"type": "str"},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
        },
        required_if=[("state", "present", ("path", "digest"))],
        supports_check_mode=True,
    )
    p = module.params
    nft = module.get_bin_path("nft", required=True)
    exists, comment, text = _live(module, nft, p["family"], p["table"])
    if p["state"] == "absent":
        changed = exists
        if changed and not module.check_mode:
            module.run_command([nft, "delete", "table", p["family"], p["table"]], check_rc=True)
        module.exit_json(changed=changed, loaded_digest=comment,
                         diff={"before": text, "after": ""})
    changed = comment != p["digest"]
    after = text
    if changed:
        with open(p["path"], encoding="utf-8") as handle:
            after = handle.read()
        if not module.check_mode:
            rc, _out, err = module.run_command([nft, "-f", p["path"]])
            if rc != 0:
                module.fail_json(msg=f"nft -f {p['path']} failed: {err.strip()}")
    module.exit_json(changed=changed, loaded_digest=comment, diff={"before": text, "after": after})


if __name__ == "__main__":
    main()
