"""`lab`: the command line. Thin: parse, call the library, print.

lab.cli.common holds what every verb shares and imports no feature;
lab.cli.root builds the application from lab.features, so a feature's
`commands` module imports lab.cli.common and never the other way round.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_APP_NAMES = {"app", "bench", "main"}


def __getattr__(name: str) -> Any:
    """`from lab.cli import app` (entry point, tests) builds the application
    on first use; shared helpers come from lab.cli.common."""
    if name in _APP_NAMES:
        return getattr(import_module("lab.cli.root"), name)
    try:
        return getattr(import_module("lab.cli.common"), name)
    except AttributeError:
        raise AttributeError(f"module 'lab.cli' has no attribute {name!r}") from None
