"""An nftables table owned entirely by stacklab, applied as one unit.

Every rule carries the same comment: a digest of the desired content. An
unchanged table is left alone; a changed one is deleted and rebuilt in one
transaction, so there is never a half-programmed table.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from lab.apply.changes import Change
from lab.apply.nft import list_table, nft_run
from lab.plan.naming import digest


def table_tag(namespace: str, family: str, table: str) -> str | None:
    """The tag our rules carry as comment; "" for a table we did not tag; None if absent."""
    items = list_table(namespace, family, table)
    if items is None:
        return None
    tags = {item["rule"].get("comment", "") for item in items if "rule" in item}
    return tags.pop() if len(tags) == 1 else ""


def content_tag(content: list) -> str:
    return "stacklab " + digest(json.dumps(content, sort_keys=True))


def diff_table(host: str, namespace: str, family: str, table: str, exists: bool, content: list,
               build: Callable[[str], list[dict]], kind: str, target: str) -> list[Change]:
    """One change that makes the table hold `build(tag)`, or none when it does."""
    if not content:
        return []
    tag = content_tag(content)
    current = table_tag(namespace, family, table) if exists else None
    if current == tag:
        return []

    def apply() -> None:
        cmds = build(tag)
        if current is not None:
            cmds.insert(0, {"delete": {"table": {"family": family, "name": table}}})
        nft_run(namespace, cmds)

    return [Change(host, "update" if current else "create", kind, target, apply)]


def delete_table(namespace: str, family: str, table: str) -> None:
    nft_run(namespace, [{"delete": {"table": {"family": family, "name": table}}}])
