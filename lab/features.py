"""Feature packages plug commands, lifecycle hooks, checks and faults into
the core by module name; a feature that is not installed is simply absent."""

from __future__ import annotations

import importlib
from types import ModuleType


def optional_module(name: str) -> ModuleType | None:
    """Import `name`; None if it (or its package) does not exist. An import
    error from inside an existing module is a bug and propagates."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and name.startswith(exc.name):
            return None
        raise


def optional_modules(names: tuple[str, ...]) -> list[ModuleType]:
    return [m for m in map(optional_module, names) if m is not None]
