"""`python -m lab.providers.ansible.agent apply-host ...`: the host side of lab_agent.

Same flags and JSON as `lab apply-host`, and the same appliers
(lab.providers.host_apply, the embedded provider's pyroute2 code), but it
imports only what applying a plan needs (pydantic, pyroute2, nftables): the
`lab` CLI loads every feature when it starts (numpy and scipy included),
which hosts do not get. Exit codes: 0 applied, 1 not root or an applier
failed, 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lab.providers.ansible.agent",
                                     description="Apply one host's planned fabric state to this machine.")
    commands = parser.add_subparsers(dest="command", required=True)
    apply = commands.add_parser("apply-host", help="apply (or --down: remove) this host's planned state")
    apply.add_argument("--plan", required=True, type=Path,
                       help='JSON: {"host": NAME, "plan": <lab plan>} or a plan')
    apply.add_argument("--host", required=True, help="which host of the plan this machine is")
    apply.add_argument("--dry-run", action="store_true", help="print what would change; change nothing")
    apply.add_argument("--down", action="store_true", help="remove this host's planned state instead")
    apply.add_argument("--format", choices=("table", "json"), default="table")
    return parser


def _error(message: str, code: int) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def apply_host(args: argparse.Namespace) -> int:
    from lab.providers.host_apply import PlanInputError, load_plan, remove_host, result_json
    from lab.providers.host_apply import apply_host as apply_one

    try:
        plan = load_plan(args.plan, args.host)
    except PlanInputError as exc:
        return _error(str(exc), 2)
    if os.geteuid() != 0:
        return _error("applying a plan changes this machine's network and needs root", 1)
    changes = (remove_host if args.down else apply_one)(plan, args.host, dry_run=args.dry_run)
    if args.format == "json":
        print(json.dumps(result_json(args.host, args.dry_run, args.down, changes), default=str))
        return 0
    for change in changes:
        print(f"  {change}")
    print(f"{args.host}: {'would change' if args.dry_run else 'changed'} {len(changes)} objects")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return apply_host(args)


if __name__ == "__main__":
    sys.exit(main())
