"""nftables through libnftables' JSON API, inside a namespace."""

from __future__ import annotations

import json

import nftables

from lab.apply.netns import inside


def nft_run(namespace: str, commands: list[dict]) -> dict:
    with inside(namespace):
        nft = nftables.Nftables()
        nft.set_json_output(True)
        rc, out, err = nft.json_cmd({"nftables": commands})
    if rc != 0:
        raise RuntimeError(f"nftables in {namespace}: {err.strip()}")
    return out if isinstance(out, dict) else json.loads(out or "{}")


def list_table(namespace: str, family: str, name: str) -> list[dict] | None:
    """The table's objects, or None when it does not exist."""
    try:
        out = nft_run(namespace, [{"list": {"table": {"family": family, "name": name}}}])
    except RuntimeError:
        return None
    return out.get("nftables", [])
